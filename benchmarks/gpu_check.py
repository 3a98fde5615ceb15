"""The CUDA check: CUDA paths against the reference, then timings against cuDNN.

One prepared script for a GPU machine (``python benchmarks/gpu_check.py --out DIR``):

1. **Parity** (float32, CUDA): rnnkit's fused path (cuDNN) for LSTM, GRU and RNN against the
   reference step loop (``path="loop"``) on outputs and every gradient; the explicit path
   (including layer-norm LSTM and recurrent dropout with a fixed mask) against the loop;
   minGRU's parallel scan against its sequential mode. Tolerances: outputs 1e-4, gradients
   1e-3 relative to their largest entry (cuDNN and TF32 reorder sums).
2. **Timings** at B16/T4096/I64/H256 (and the issue's configs): rnnkit LSTM/GRU (``auto`` =
   cuDNN) against ``torch.nn.LSTM``/``GRU`` (cuDNN), and minGRU's parallel scan against cuDNN
   GRU, training and inference, interleaved, medians of paired ratios (rnnkit.bench.compare).

Writes ``gpu_check.json`` and ``gpu_check.md`` to ``--out``. Without CUDA it still runs the
parity checks on CPU and writes both files with "no CUDA: skipped timings".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import rnnkit.nn as rn
from rnnkit.bench.measure import BenchConfig, machine
from rnnkit.bench.speed import compare, torch_module
from rnnkit.nn.minimal import MinimalConfig
from rnnkit.nn.mingru import MinGRU

T_LONG = 4096


def max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def run_and_grad(layer, x: torch.Tensor, **kwargs):
    layer.zero_grad(set_to_none=True)
    y, _ = layer(x, **kwargs)
    y.pow(2).sum().backward()
    return y.detach(), [p.grad.detach().clone() for p in layer.parameters()]


def parity(device: torch.device) -> list[dict]:
    """Each fast path against its reference on ``device``; one record per check."""
    results = []
    torch.manual_seed(0)
    x = torch.randn(4, 33, 16, device=device)
    lengths = torch.tensor([33, 20, 5, 1], device=device)
    for cell in ("lstm", "gru", "rnn_tanh"):
        for path, extra in (("fused", {}), ("explicit", {})):
            config = rn.RecurrentConfig(cell, 16, 32, batch_first=True,
                                        num_layers=2, bidirectional=True, path=path)
            fast = rn.build_recurrent(config).to(device)
            ref = rn.build_recurrent(rn.RecurrentConfig(cell, 16, 32, batch_first=True,
                                                        num_layers=2,
                                                        bidirectional=True, path="loop"))
            ref = ref.to(device)
            ref.load_state_dict(fast.state_dict())
            for kw in ({}, {"lengths": lengths}):
                (y, g), (y_ref, g_ref) = run_and_grad(fast, x, **kw), run_and_grad(ref, x, **kw)
                results.append({"check": f"{cell} {path} vs loop" + (" (lengths)" if kw else ""),
                                "output_err": max_rel(y, y_ref),
                                "grad_err": max(max_rel(a, b) for a, b in zip(g, g_ref))})
    for name, kwargs in (("ln_lstm", dict(layer_norm=True)),
                         ("lstm recurrent dropout", dict(recurrent_dropout=0.3))):
        results.append(_seeded_pair(name, device, x, kwargs))
    mingru = MinGRU(MinimalConfig("mingru", 16, 32, num_layers=2, mode="parallel")).to(device)
    seq = MinGRU(MinimalConfig("mingru", 16, 32, num_layers=2, mode="sequential")).to(device)
    seq.load_state_dict(mingru.state_dict())
    (y, g), (y_ref, g_ref) = run_and_grad(mingru, x), run_and_grad(seq, x)
    results.append({"check": "mingru parallel vs sequential", "output_err": max_rel(y, y_ref),
                    "grad_err": max(max_rel(a, b) for a, b in zip(g, g_ref))})
    for r in results:
        r["ok"] = r["output_err"] < 1e-4 and r["grad_err"] < 1e-3
    return results


def _seeded_pair(name: str, device: torch.device, x: torch.Tensor, kwargs: dict) -> dict:
    outs = []
    for path in ("explicit", "loop"):
        torch.manual_seed(1)
        layer = rn.LSTM(16, 32, batch_first=True,
                        num_layers=2, path=path, **kwargs).to(device).train()
        torch.manual_seed(2)                             # same masks on both paths
        outs.append(run_and_grad(layer, x))
    (y, g), (y_ref, g_ref) = outs
    return {"check": f"{name} explicit vs loop", "output_err": max_rel(y, y_ref),
            "grad_err": max(max_rel(a, b) for a, b in zip(g, g_ref))}


def timings(device: torch.device, repeats: int) -> list[dict]:
    """LSTM/GRU against cuDNN, minGRU's parallel scan against cuDNN GRU."""
    rows = []
    peak = _matmul_peak(device)
    for config in (BenchConfig(16, T_LONG, 64, 256), BenchConfig(32, 128, 64, 256),
                   BenchConfig(64, 256, 128, 512, layers=2)):
        for cell in ("lstm", "gru"):
            reference = torch_module(cell, config).to(device)
            mine = rn.from_torch(reference)
            rows += compare(cell, config, _Synced(mine), _Synced(reference),
                            f"torch.nn.{type(reference).__name__} (cuDNN)", repeats, peak,
                            path=mine.path, device=device)
        gru = torch_module("gru", config).to(device)
        mingru = MinGRU(MinimalConfig("mingru", config.inputs, config.hidden,
                                      num_layers=config.layers, mode="parallel")).to(device)
        rows += compare("mingru", config, _Synced(mingru), _Synced(gru),
                        "torch.nn.GRU (cuDNN)", repeats, peak, path="parallel scan",
                        device=device)
    return rows


class _Synced(torch.nn.Module):
    """Waits for the GPU after each call, so wall-clock timing measures the work."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x):
        out = self.module(x)
        torch.cuda.synchronize()
        return out


def _matmul_peak(device: torch.device, size: int = 8192) -> float:
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(5):
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return 2 * size ** 3 / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_check_out"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    checks = parity(device)
    rows = timings(device, args.repeats) if cuda else []
    info = {**machine(), "device": torch.cuda.get_device_name() if cuda else "cpu"}
    note = "" if cuda else "no CUDA: skipped timings (parity checked on CPU)"
    (args.out / "gpu_check.json").write_text(json.dumps(
        {"machine": info, "parity": checks, "timings": rows, "note": note}, indent=1) + "\n")
    lines = [f"# GPU check ({info['device']})", "", note, "",
             "| check | output err | grad err | ok |", "|---|---:|---:|---|"]
    lines += [f"| {c['check']} | {c['output_err']:.1e} | {c['grad_err']:.1e} | {c['ok']} |"
              for c in checks]
    if rows:
        lines += ["", "| cell | config | mode | path | rnnkit tok/s | reference | ref tok/s "
                  "| ratio |", "|---|---|---|---|---:|---|---:|---:|"]
        lines += [f"| {r['cell']} | {r['config']} | {r['mode']} | {r['path']} "
                  f"| {r['rnnkit_tokens_per_s']:,.0f} | {r['reference']} "
                  f"| {r['reference_tokens_per_s']:,.0f} | {r['ratio']:.2f} |" for r in rows]
    (args.out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if note:
        print(note, file=sys.stderr)
    return 0 if all(c["ok"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
