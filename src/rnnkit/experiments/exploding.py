"""``exploding``: an Elman RNN whose recurrent matrix has spectral radius above 1.

The recurrent matrix is set to rho * Q (Q orthogonal), so its spectral radius is exactly rho.
Backpropagation multiplies by diag(f'(a_t)) W_hh^T once per step: with rho > 1 the gradient can
grow like rho^k over k steps (Pascanu, Mikolov & Bengio 2013, sec. 2-3), and a ReLU RNN's state
itself can overflow to Inf. Each run trains on the adding problem (T = 50) from the same start;
the trainer skips and counts steps whose loss or gradient is NaN/Inf, clipping (global norm 1,
sec. 3.2 of the same paper) rescales the others. We report the loss reached, the largest
pre-clip gradient norm, how often clipping fired and the NaN/Inf steps, against a stable run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnkit.experiments.common import Budget, Result, SequenceModel, train
from rnnkit.experiments.plots import line_plot
from rnnkit.experiments.tasks import adding_batch
from rnnkit.train.diagnostics import summarize
from rnnkit.train.metrics import read_metrics

T, WIDTH, BATCH = 50, 64, 32
# (label, cell, spectral radius, clip norm or None)
RUNS = [
    ("stable: tanh, rho=0.9, clip 1", "rnn_tanh", 0.9, 1.0),
    ("tanh, rho=3, no clip", "rnn_tanh", 3.0, None),
    ("tanh, rho=3, clip 1", "rnn_tanh", 3.0, 1.0),
    ("relu, rho=1.5, no clip", "rnn_relu", 1.5, None),
    ("relu, rho=1.5, clip 1", "rnn_relu", 1.5, 1.0),
    ("relu, rho=3, clip 1", "rnn_relu", 3.0, 1.0),
]
SMALL, FULL, MINIMUM = 200, 1000, 30


def set_spectral_radius(model: SequenceModel, rho: float) -> None:
    """W_hh <- rho * Q with Q a random orthogonal matrix: every eigenvalue has modulus rho."""
    cell = model.encoder.cells[0]
    with torch.no_grad():
        q, _ = torch.linalg.qr(torch.randn(WIDTH, WIDTH))
        cell.weight_hh.copy_(rho * q)


def run(budget: Budget, out_dir: Path, command: str) -> Result:
    start = time.perf_counter()
    rows, losses, norms = [], {}, {}
    val = adding_batch(512, T, torch.Generator().manual_seed(7))
    for label, cell, rho, clip in RUNS:
        torch.manual_seed(0)
        model = SequenceModel(cell, 2, WIDTH, 1)
        set_spectral_radius(model, rho)
        g = torch.Generator().manual_seed(1)

        def batches(g=g):
            while True:
                yield adding_batch(BATCH, T, g)

        log = out_dir / f"exploding_{len(rows)}.jsonl"
        stopped = train(model, batches(), F.mse_loss, steps=budget.updates, lr=1e-3,
                        clip=clip, log_path=log)
        metrics = read_metrics(log)
        s = summarize(metrics, None, cell=cell)
        with torch.no_grad():
            final = float(F.mse_loss(model(val.inputs)[0], val.targets))
        final = final if math.isfinite(final) else math.inf
        finite_weights = all(bool(torch.isfinite(p).all()) for p in model.parameters())
        train_rows = [r for r in metrics if r.get("kind") == "train"]
        losses[label] = [r["loss"] if r.get("loss") is not None else math.nan
                         for r in train_rows if not r.get("skipped")]
        norms[label] = [r.get("grad_norm_max") or math.nan
                        for r in train_rows if not r.get("skipped")]
        status = ("stopped: 20 NaN/Inf steps in a row" if stopped else
                  f"NaN/Inf detected, {s['bad_steps']} steps skipped" if s["bad_steps"] else
                  "diverged" if not math.isfinite(final) or final > 1.0 else "trained")
        rows.append([label, final, s["max_grad_norm"], s["clip_share"], s["bad_steps"],
                     finite_weights, status])
        log.unlink()
    steps = list(range(1, max(len(v) for v in losses.values()) + 1))
    plots = [
        line_plot(steps, losses, out_dir / "exploding_loss.png", xlabel="logged step",
                  ylabel="training MSE", title="Elman RNN, spectral radius rho", logy=True),
        line_plot(steps, norms, out_dir / "exploding_grad_norm.png", xlabel="logged step",
                  ylabel="largest pre-clip gradient norm", title="gradient norm", logy=True),
    ]
    findings = [f"{row[0]}: {row[6]}, validation MSE {row[1]:.3g}, largest gradient norm "
                f"{row[2]:.3g}, clipped on {row[3]:.0%} of steps, {row[4]} NaN/Inf steps"
                for row in rows]
    return Result("exploding", command, budget.name,
                  ["run", "val MSE", "max grad norm", "clip share", "NaN/Inf steps",
                   "weights finite", "outcome"], rows, findings, plots,
                  time.perf_counter() - start)
