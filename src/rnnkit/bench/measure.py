"""What the speed benchmarks measure with: the configs, the matrix-product peak, FLOP counts,
interleaved paired timings, resident memory, and the machine's details.

Timings depend on the machine and its load, so two variants are never timed apart: they run
interleaved (alternating which goes first) and each repeat gives one paired ratio, so load
drifting over the run hits them alike (:func:`paired_times`). ``peak_fraction`` is a layer's
useful FLOP/s over the float32 matrix-product peak measured at the start of the same run
(:func:`matmul_peak`: the best ``torch.mm`` over two square sizes and the benchmarked layers' own
input-projection shapes, after a warm-up). Forward FLOPs per step, per layer and direction, are
2*G*B*H*(I+H) with G = 4 (LSTM), 3 (GRU), 1 (RNN), I being that layer's input size
(:func:`forward_flops`); training counts 3x that.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

# Gates per cell: the G of the FLOP count.
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1, "ln_lstm": 4}


@dataclass(frozen=True)
class BenchConfig:
    batch: int        # B
    steps: int        # T
    inputs: int       # I
    hidden: int       # H
    layers: int = 1   # L

    @property
    def name(self) -> str:
        return f"B{self.batch}/T{self.steps}/I{self.inputs}/H{self.hidden}/L{self.layers}"


CONFIGS = (BenchConfig(8, 64, 32, 64), BenchConfig(32, 128, 64, 256),
           BenchConfig(16, 1024, 64, 128), BenchConfig(64, 256, 128, 512, layers=2))
QUICK_CONFIGS = CONFIGS[:3]
STREAM_CONFIG = BenchConfig(8, 1, 32, 64, layers=2)


SQUARES = ((1024, 1024, 1024), (2048, 2048, 2048))


def matmul_peak(shapes=SQUARES, repeats: int = 10, warmup_s: float = 0.5) -> float:
    """Float32 FLOP/s of ``torch.mm``: the best over ``shapes`` (M, K, N) and ``repeats`` (the best
    is the least disturbed by other load).

    The cores are kept busy for ``warmup_s`` first (thread pool up, clocks settled). Pass the
    workload's own product shapes too (:func:`workload_shapes`): a single square size can
    understate what the GEMM library reaches on the tall-skinny products a recurrent layer runs,
    which would put a peak fraction above 1.
    """
    best_rate = 0.0
    for i, (m, k, n) in enumerate(shapes):
        a, b = torch.randn(m, k), torch.randn(k, n)
        start = time.perf_counter()
        while i == 0 and time.perf_counter() - start < warmup_s:
            a @ b
        a @ b
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best_rate = max(best_rate, 2 * m * k * n / (time.perf_counter() - start))
    return best_rate


def workload_shapes(configs, cells) -> list[tuple[int, int, int]]:
    """The input-projection product of every config's first layer, (B*T, I+H, G*H), and the same
    for its deeper layers: the largest GEMMs the benchmarked layers run."""
    shapes = set()
    for config in configs:
        for cell in cells:
            gates = GATES[cell] * config.hidden
            shapes.add((config.batch * config.steps, config.inputs + config.hidden, gates))
            if config.layers > 1:
                shapes.add((config.batch * config.steps, 2 * config.hidden, gates))
    return sorted(shapes)


def forward_flops(cell: str, config: BenchConfig) -> float:
    """Forward FLOPs of one pass over the batch: 2*G*B*H*(I_l + H) per step, layer."""
    flops, inputs = 0, config.inputs
    for _ in range(config.layers):
        flops += 2 * GATES[cell] * config.batch * config.hidden * (inputs + config.hidden)
        inputs = config.hidden
    return float(flops * config.steps)


def paired_times(first, second, repeats: int, inner: int) -> tuple[list[float], list[float]]:
    """Seconds per call of each, ``repeats`` interleaved rounds of ``inner`` calls each."""
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(repeats):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        for which in order:
            fn = (first, second)[which]
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[which].append((time.perf_counter() - start) / inner)
    return times


def calls_per_round(fn, budget: float = 0.1) -> int:
    """Calls of ``fn`` that take about ``budget`` seconds (one warm-up call measures it)."""
    start = time.perf_counter()
    fn()
    return max(1, int(budget / max(time.perf_counter() - start, 1e-6)))


def resident_bytes() -> int | None:
    """The process's resident memory, from /proc (Linux); None elsewhere."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return None
    import resource
    return int(statm.read_text().split()[1]) * resource.getpagesize()


def machine() -> dict:
    """The CPU, its cores, torch's threads and the versions: what each row's numbers depend on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "nproc": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}
