"""Training throughput (forward + backward) of minGRU's two modes against torch.nn.GRU on CPU.

Not a test: timings depend on the machine and its load. The variants are interleaved within
each repeat, so that load drifting over the run hits them alike; times are medians over repeats
and each ratio is the median of the per-repeat ratios (nn.GRU's time over the variant's).
Run with ``python benchmarks/mingru_speed.py [--repeats N] [--threads N]``.

The project's target: minGRU (sequential mode, the CPU default) trains at least 4x as fast as
``torch.nn.GRU`` at T >= 256. Measured on the 2-core development machine (torch 2.13 CPU, other
jobs running, so single numbers wander by 10-20%; the ratios are steadier):

    threads  T      nn.GRU     minGRU sequential    minGRU parallel
    2        256    53 ms      10.0 ms  (5.2x)      48 ms   (1.1x)
    2        1024   219 ms     42.2 ms  (5.2x)      202 ms  (1.1x)
    1        256    65 ms      14.5 ms  (4.4x)      86 ms   (0.75x)
    1        1024   266 ms     62.8 ms  (4.2x)      345 ms  (0.77x)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from rnnkit.nn.mingru import MinGRU

B, I, H = 16, 128, 128


def train_step(model: nn.Module, x: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    output, _ = model(x)
    output.square().mean().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[256, 1024], help="T values")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {
        "torch.nn.GRU": nn.GRU(I, H, batch_first=True),
        "minGRU sequential": MinGRU(I, H, mode="sequential"),
        "minGRU parallel": MinGRU(I, H, mode="parallel"),
    }
    print(f"B={B} I={I} H={H}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"median of {args.repeats} interleaved repeats")
    for T in args.steps:
        x = torch.randn(B, T, I)
        for model in models.values():        # warm-up
            train_step(model, x)
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.repeats):
            for name, model in models.items():
                start = time.perf_counter()
                train_step(model, x)
                times[name].append(time.perf_counter() - start)
        base = times["torch.nn.GRU"]
        for name, ts in times.items():
            median = statistics.median(ts)
            ratio = statistics.median(b / t for b, t in zip(base, ts))    # paired, per repeat
            print(f"T={T:5d}  {name:18s} {1e3 * median:8.1f} ms  {B * T / median:9.0f} tok/s  "
                  f"{ratio:5.2f}x nn.GRU")


if __name__ == "__main__":
    main()
