"""rnnkit layers against torch.nn in one process: training and inference throughput.

A thin script over :mod:`rnnkit.bench.speed` (the method is in its docstring); ``rnnkit bench``
runs the same code with the same options.

Usage::

    python benchmarks/speed.py [--quick] [--cells gru,rnn_tanh,lstm,ln_lstm] [--keras]
                               [--json OUT] [--repeats N] [--threads N] [--stream-steps N]
"""

from __future__ import annotations

import argparse

from rnnkit.bench.extra import keras_rows, ln_lstm_rows                      # noqa: F401
from rnnkit.bench.speed import (BenchConfig, add_arguments, forward_flops,   # noqa: F401
                                layer_rows, matmul_peak, run_from_args, streaming_row,
                                workload_shapes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    main()
