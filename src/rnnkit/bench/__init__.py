"""Speed benchmarks run from the package (``rnnkit bench``; ``benchmarks/speed.py`` is a thin
script over the same code): timing, paired ratios, and the rows of docs/benchmarks.md."""

from rnnkit.bench.measure import (BenchConfig, calls_per_round, forward_flops, matmul_peak,
                                  paired_times, workload_shapes)
from rnnkit.bench.speed import add_arguments, compare, layer_rows, run, run_from_args, streaming_row

__all__ = ["BenchConfig", "add_arguments", "calls_per_round", "compare", "forward_flops",
           "layer_rows", "matmul_peak", "paired_times", "run", "run_from_args", "streaming_row",
           "workload_shapes"]
