"""``rnnkit bench``: rnnkit's layers against torch.nn (and optionally Keras 3) in one process,
training and inference throughput, ratios and fractions of the measured matrix-product peak
(:mod:`rnnkit.bench.speed`)."""

from __future__ import annotations

import argparse

from rnnkit.bench import add_arguments, run_from_args


def add_parser(commands) -> None:
    p = commands.add_parser(
        "bench", help="time rnnkit's recurrent layers against torch.nn",
        description="Time rnnkit's recurrent layers against torch.nn in one process "
        "(interleaved, medians of paired ratios); the method is in rnnkit.bench.speed. "
        "Use --quick --threads 1 on a shared machine.")
    add_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    run_from_args(args)
    return 0
