"""``streaming``: generating a long stream with a recurrent state against a KV cache.

An LSTM carries (h, c) of fixed size: O(1) memory and time per token however long the stream.
A transformer decoding with a key/value cache (``TransformerEncoder.step``) keeps 2 * L * n * d
numbers after n tokens and attends over all of them: memory and time per token grow with n.
Both have 2 layers of width 128 and read random input vectors (speed and memory do not depend
on what is generated); one CPU thread.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from rnnkit.experiments.common import Budget, Result
from rnnkit.experiments.plots import line_plot
from rnnkit.models.encoders import build_encoder

WIDTH, LAYERS = 128, 2
SMALL, FULL, MINIMUM = 10_000, 100_000, 1_000   # tokens generated


def _nbytes(state) -> int:
    if state is None:
        return 0
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    return sum(_nbytes(s) for s in state)


@torch.inference_mode()
def run(budget: Budget, out_dir: Path, command: str) -> Result:
    start = time.perf_counter()
    n = budget.updates
    marks = [int(n * f) for f in (0.01, 0.1, 0.25, 0.5, 0.75, 1.0)]
    torch.manual_seed(0)
    lstm = build_encoder("lstm", WIDTH, WIDTH, LAYERS).eval()
    transformer = build_encoder("transformer", WIDTH, WIDTH, LAYERS, num_heads=4).eval()
    inputs = torch.randn(1000, 1, WIDTH)
    rows, per_token, memory = [], {"lstm": [], "transformer (KV cache)": []}, {
        "lstm": [], "transformer (KV cache)": []}
    for label in per_token:
        state, done, t0 = None, 0, time.perf_counter()
        window_start, window_tokens = t0, 0
        for mark in marks:
            while done < mark:
                x_t = inputs[done % 1000]                            # (1, I)
                if label == "lstm":
                    _, state = lstm(x_t[:, None], state)
                else:
                    _, state = transformer.step(x_t, state)
                done += 1
                window_tokens += 1
            now = time.perf_counter()
            us = (now - window_start) / max(window_tokens, 1) * 1e6
            per_token[label].append(us)
            memory[label].append(_nbytes(state) / 2 ** 20)
            rows.append([label, mark, us, _nbytes(state) / 2 ** 20, now - t0])
            window_start, window_tokens = now, 0
    plots = [
        line_plot(marks, per_token, out_dir / "streaming_time.png", xlabel="tokens generated",
                  ylabel="microseconds per token (since the previous mark)",
                  title="generation time per token", logx=True),
        line_plot(marks, memory, out_dir / "streaming_memory.png", xlabel="tokens generated",
                  ylabel="state / KV cache (MiB)", title="generation state size", logx=True),
    ]
    last = {r[0]: r for r in rows if r[1] == marks[-1]}
    findings = [f"After {n:,} tokens the LSTM state is {last['lstm'][3] * 1024:.1f} KiB and "
                f"costs {last['lstm'][2]:.0f} us/token; the KV cache is "
                f"{last['transformer (KV cache)'][3]:.1f} MiB and costs "
                f"{last['transformer (KV cache)'][2]:.0f} us/token.",
                "Memory is the cache (2 x layers x tokens x width floats), not process RSS."]
    return Result("streaming", command, budget.name,
                  ["model", "tokens", "us/token (recent)", "state MiB", "seconds so far"],
                  rows, findings, plots, time.perf_counter() - start)
