"""The server's settings: where it listens, who may call it, and every limit it enforces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeConfig:
    """``rnnkit serve`` flags; the limits answer 413/422 (a request too big or out of range),
    429 (too many sessions) or 503 (too many streams at once)."""

    host: str = "127.0.0.1"          # loopback: reachable from this machine only
    port: int = 8080                 # 0: any free port (the URL is printed)
    token: str | None = None         # bearer token every endpoint but /ping and / requires
    state_dir: str | None = None     # sessions.db lives here; None: sessions end with the process
    batched: bool = True             # one batched cell step for all streams of a model
    backend: str = "torch"           # "torch": the runs' weights; "onnxruntime": their ONNX
                                     # exports (rnnkit export), run by ONNX Runtime
    max_body_bytes: int = 65536      # request bodies larger than this: 413
    max_prompt_chars: int = 8192     # prompt, appended text or invocation input
    max_length: int = 2048           # tokens generated per request
    max_temperature: float = 5.0     # temperature in [0, this]
    max_stop: int = 8                # stop strings per request, each 1-64 characters
    max_inputs: int = 64             # inputs per /invocations request
    max_streams: int = 64            # generations and appends decoded at once, per model: 503
    max_sessions: int = 10000        # open sessions: 429
    max_invocations: int = 4         # /invocations computed at once: 503
    drain_seconds: float = 60.0      # SIGTERM: how long streams in flight may take to finish
