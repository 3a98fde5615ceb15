"""How close the explicit GRU is to its own matrix products: one training step of rnnkit's GRU
(compiled loops), the same step's matrix products alone (same shapes, same ``RecurrentProduct``,
no elementwise work), and ``torch.nn.GRU``, interleaved in one process; medians of paired ratios
against ``torch.nn.GRU``. "products alone" is the ratio no implementation doing these products
at these rates could beat, so it is the ceiling for the explicit path on this machine.

    python benchmarks/gru_products.py [--threads 2] [--repeats 5] [--configs 1,3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rnnkit.nn as rn
from rnnkit.bench.measure import CONFIGS
from rnnkit.nn.fast.explicit_common import RecurrentProduct, chunk_steps


def products_of_a_step(B: int, T: int, I: int, H: int, L: int):
    """A callable running the matrix products of one training step of an L-layer GRU."""
    layers = []
    for layer in range(L):
        inputs = I if layer == 0 else H
        w_hh = torch.randn(3 * H, H) / H ** 0.5
        layers.append(dict(
            x=torch.randn(B * T, inputs), w_ih=torch.randn(3 * H, inputs), first=layer == 0,
            fwd=RecurrentProduct(w_hh, B), bwd=RecurrentProduct(w_hh.t(), B),
            h=torch.randn(T + 1, B, H), da=torch.randn(T, B, 3 * H),
            acc=torch.empty(B, 3 * H), acc_h=torch.empty(B, H), dxp=torch.randn(B * T, 3 * H)))
    steps = chunk_steps(T, B, 3 * H, torch.empty(0))

    def run():
        for p in layers:                                 # forward
            torch.mm(p["x"], p["w_ih"].t())
            for t in range(T):
                p["fwd"].into(p["acc"], p["h"][t])
        for p in reversed(layers):                       # backward
            for t in range(T - 1, -1, -1):
                p["bwd"].into(p["acc_h"], p["da"][t])
            for t0 in range(0, T, steps):
                t1 = min(T, t0 + steps)
                torch.mm(p["da"][t0:t1].reshape(-1, 3 * H).t(), p["h"][t0:t1].reshape(-1, H))
            torch.mm(p["dxp"].t(), p["x"])               # dW_ih
            if not p["first"]:
                torch.mm(p["dxp"], p["w_ih"])            # dx
    return run


def train_step(module, x):
    def run():
        module.zero_grad(set_to_none=True)
        y, _ = module(x)
        y.sum().backward()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", default="1,3",
                        help="indices into rnnkit.bench.measure.CONFIGS")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for index in (int(i) for i in args.configs.split(",")):
        c = CONFIGS[index]
        ref = torch.nn.GRU(c.inputs, c.hidden, c.layers, batch_first=True)
        mine = rn.from_torch(ref, path="explicit")
        x = torch.randn(c.batch, c.steps, c.inputs)
        runs = {"torch.nn.GRU": train_step(ref, x), "rnnkit": train_step(mine, x),
                "products alone": products_of_a_step(c.batch, c.steps, c.inputs, c.hidden,
                                                     c.layers)}
        for run in runs.values():                        # warm-up
            run()
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        ref_t = times["torch.nn.GRU"]
        parts = [f"{name} {statistics.median(ts) * 1e3:,.0f} ms "
                 f"({statistics.median(r / m for r, m in zip(ref_t, ts)):.2f}x)"
                 for name, ts in times.items()]
        print(f"{c.name}: " + ", ".join(parts), flush=True)


if __name__ == "__main__":
    main()
