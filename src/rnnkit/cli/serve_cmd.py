"""``rnnkit serve RUN [RUN ...]``: serve trained runs over HTTP (see docs/serving.md).

Loopback only unless ``--host`` says otherwise; ``--token`` (or ``$RNNKIT_TOKEN``) makes every
endpoint but /ping and the playground's page ask for ``Authorization: Bearer TOKEN``. SIGTERM
stops accepting, lets the streams in flight finish (at most ``--drain`` seconds), and folds the
session log into its database.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys

from rnnkit.errors import RnnkitError
from rnnkit.tasks.flags import positive_int

TOKEN_ENV = "RNNKIT_TOKEN"


def add_parser(commands) -> None:
    p = commands.add_parser(
        "serve", help="serve trained runs over HTTP (any task; batched generation, sessions)",
        description="Serve trained runs over HTTP: /invocations (any task), /v1/generate "
                    "(streamed), sessions, and a playground at /. Without RUN, the runs in "
                    "$RNNKIT_MODEL_DIR are served.")
    p.add_argument("runs", metavar="RUN", nargs="*",
                   help="run folders (or folders of runs) written by rnnkit train")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (0: any free one) (8080)")
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                   help=f"bearer token the clients must send (default: ${TOKEN_ENV})")
    p.add_argument("--state-dir", metavar="DIR",
                   help="keep sessions in DIR/sessions.db across restarts (default: in memory)")
    p.add_argument("--no-batching", action="store_true",
                   help="decode each stream with its own forward per token (for comparison)")
    p.add_argument("--max-streams", type=positive_int, metavar="N", default=64,
                   help="streams decoded at once per model; more answer 503 (64)")
    p.add_argument("--max-sessions", type=positive_int, metavar="N", default=10000,
                   help="open sessions; more answer 429 (10000)")
    p.add_argument("--drain", type=float, metavar="S", default=60.0,
                   help="seconds the streams in flight get to finish at SIGTERM (60)")
    p.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                   help="torch: the runs' weights; onnxruntime: their ONNX exports (export "
                        "folders, or run folders holding export-onnx/, from rnnkit export)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="torch threads (default: torch's choice)")
    p.set_defaults(handler=run)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
        from sse_starlette.sse import AppStatus

        from rnnkit.serve import ServeConfig, create_app
        from rnnkit.serve.models import resolve_runs
    except ImportError as e:
        raise RnnkitError(f"rnnkit serve needs the serve extra ({e.name} is missing): "
                          "pip install 'rnnkit[serve]'") from None
    if not 0 <= args.port <= 65535:
        raise RnnkitError(f"--port must be in [0, 65535], got {args.port}")
    if args.token is not None and not args.token:
        raise RnnkitError("--token is empty")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    config = ServeConfig(host=args.host, port=args.port, token=args.token,
                         state_dir=args.state_dir, batched=not args.no_batching,
                         max_streams=args.max_streams, max_sessions=args.max_sessions,
                         drain_seconds=args.drain, backend=args.backend)
    if not _loopback(args.host) and args.token is None:
        print(f"rnnkit: note: listening on {args.host} without --token: whoever reaches this "
              "port can use the models", file=sys.stderr)
    app = create_app(resolve_runs(args.runs), config)
    AppStatus.disable_automatic_graceful_drain()    # SIGTERM lets streams finish (drain)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port,
                                           log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=args.drain))
    asyncio.run(_serve(server, app))
    return 0


async def _serve(server, app) -> None:
    """Run uvicorn; once it listens, print the URL (the port it got, when --port 0)."""
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        models = ", ".join(app.state.server.models)
        print(f"rnnkit: serving {models} on http://{host}:{port}", flush=True)
    await task
