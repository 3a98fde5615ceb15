"""rnnkit layers against torch.nn in one process: training and inference throughput.

A thin script over :mod:`rnnkit.bench.speed` and :mod:`rnnkit.bench.measure` (the method is in
their docstrings); ``rnnkit bench`` runs the same code with the same options.

Usage::

    python benchmarks/speed.py [--quick] [--cells gru,rnn_tanh,lstm,ln_lstm] [--keras]
                               [--json OUT] [--repeats N] [--threads N] [--stream-steps N]
"""

from __future__ import annotations

import argparse

from rnnkit.bench.extra import keras_rows, ln_lstm_rows                          # noqa: F401
from rnnkit.bench.measure import (BenchConfig, forward_flops, matmul_peak,       # noqa: F401
                                  workload_shapes)
from rnnkit.bench.speed import add_arguments, layer_rows, run_from_args, streaming_row  # noqa


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    main()
