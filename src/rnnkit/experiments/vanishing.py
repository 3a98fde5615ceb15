"""``vanishing``: the adding problem (Hochreiter & Schmidhuber 1997) at growing T.

x_t = (value, marker); the target is the sum of the two marked values, one in each half of the
sequence, read at the end. Predicting 1.0 scores MSE ~0.167; MSE < 0.01 needs information from
up to T steps back, so the gradient has to survive T steps of backpropagation through time.
Every cell (width 64, one layer) gets the same updates; we report the first update at which
the validation MSE fell below 0.01 and the best MSE, and draw the gradient flow of the Elman
RNN against the LSTM at T = 200 (``rnnkit.train.diagnostics``).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit.experiments.common import Budget, Result, SequenceModel, train
from rnnkit.experiments.plots import line_plot
from rnnkit.experiments.tasks import adding_batch
from rnnkit.train.diagnostics import GradientProbe, gradient_flow
from rnnkit.train.diagnostics_plot import DISTANCE_FILE, HEATMAP_FILE, write_report

CELLS = ("rnn", "lstm", "gru", "mingru")
LENGTHS = (50, 100, 200, 400, 1000)
WIDTH, BATCH, TARGET = 64, 32, 0.01
FLOW_T = 200          # the length whose gradient flow is drawn
SMALL, FULL, MINIMUM = 300, 2000, 50


def mse(pred, target):
    return F.mse_loss(pred, target)


def run(budget: Budget, out_dir: Path, command: str) -> Result:
    start = time.perf_counter()
    rows, reached = [], {cell: [] for cell in CELLS}
    flows = {}
    for T in LENGTHS:
        g_val = torch.Generator().manual_seed(999)
        val = adding_batch(512, T, g_val)
        for cell in CELLS:
            torch.manual_seed(0)
            model = SequenceModel(cell, 2, WIDTH, 1)
            g = torch.Generator().manual_seed(T)
            history = []
            every = max(10, budget.updates // 20)
            flow_dir = out_dir / f"flow_{cell}_T{T}"
            probe_flow = (GradientProbe(model, mse, flow_dir, every)
                          if T == FLOW_T and cell in ("rnn", "lstm") else None)
            if T == FLOW_T and cell in ("rnn", "lstm"):
                flows[cell] = [gradient_flow(model, mse, val)[0][0]]

            def probe(step, batch, model=model, history=history, probe_flow=probe_flow):
                if step % every == 0 or step == budget.updates:
                    history.append((step, validation_mse(model, val)))
                if probe_flow is not None:
                    probe_flow(step, batch)

            def batches(T=T, g=g):
                while True:
                    yield adding_batch(BATCH, T, g)

            train(model, batches(), mse, steps=budget.updates, lr=5e-3, probe=probe)
            best = min(v for _, v in history)
            first = next((s for s, v in history if v < TARGET), None)
            reached[cell].append(best)
            rows.append([T, cell, best, first if first is not None else "no"])
            if probe_flow is not None:
                flows[cell].append(gradient_flow(model, mse, val)[0][0])
                write_report(flow_dir, cell=cell, title=f"{cell}, adding problem T={T}")
                shutil.copy(flow_dir / HEATMAP_FILE, out_dir / f"vanishing_heatmap_{cell}.png")
    plots = [line_plot(list(LENGTHS), reached, out_dir / "vanishing.png", xlabel="T",
                       ylabel="best validation MSE", title="adding problem", logx=True,
                       logy=True, hline=TARGET, hline_label="MSE 0.01")]
    plots.append(_flow_plot(flows, out_dir / "vanishing_flow.png"))
    plots += [f"vanishing_heatmap_{c}.png" for c in ("rnn", "lstm") if c in flows]
    findings = _findings(rows, flows, budget)
    return Result("vanishing", command, budget.name,
                  ["T", "cell", "best val MSE", f"first update with MSE < {TARGET}"],
                  rows, findings, plots, time.perf_counter() - start)


@torch.no_grad()
def validation_mse(model, val) -> float:
    model.eval()
    value = float(mse(model(val.inputs)[0], val.targets))
    model.train()
    return value


def _flow_plot(flows: dict, path: Path) -> str:
    series = {}
    for cell, (before, after) in flows.items():
        series[f"{cell} at init"] = list(before[::-1])
        series[f"{cell} trained"] = list(after[::-1])
    return line_plot(list(range(FLOW_T)), series, path, xlabel="distance from the loss (steps)",
                     ylabel="||dL/dh_t||", title=f"gradient flow, adding problem T={FLOW_T}",
                     logy=True)


def _findings(rows, flows, budget) -> list[str]:
    lines = []
    for cell in CELLS:
        solved = [T for T, c, best, first in rows if c == cell and first != "no"]
        lines.append(f"{cell}: below MSE {TARGET} within {budget.updates} updates at "
                     + (f"T = {', '.join(map(str, solved))}" if solved else "no length"))
    for cell, (before, after) in flows.items():
        factor = before[0] / before[-1] if before[-1] > 0 else float("nan")
        after_factor = after[0] / after[-1] if after[-1] > 0 else float("nan")
        lines.append(f"{cell} at T={FLOW_T}: vanishing factor g_0/g_T-1 {factor:.2e} at init, "
                     f"{after_factor:.2e} after training")
    return lines
