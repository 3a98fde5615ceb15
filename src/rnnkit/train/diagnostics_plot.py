"""Pictures and summary file of the gradient-flow diagnostics (``rnnkit.train.diagnostics``).

A run folder with ``gradient_flow.jsonl`` gets::

    gradient_heatmap.png    log10 g^l_t, timestep (x) against training step (y), one panel per layer
    gradient_distance.png   g^l against distance from the loss (T - 1 - t), first and last probe,
                            with the run's summary figures in the corner
    diagnostics.json        the summary (``diagnostics.summarize``)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from rnnkit.data.text import atomic_write
from rnnkit.train.diagnostics import FLOW_FILE, SUMMARY_FILE, read_flow, summarize
from rnnkit.train.metrics import read_metrics

HEATMAP_FILE = "gradient_heatmap.png"
DISTANCE_FILE = "gradient_distance.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, *, tight: bool = True) -> Path:
    plt = _pyplot()
    try:
        if tight:
            fig.tight_layout()
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)


def _log10(norms: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.where(norms > 0, norms, np.nan))


def plot_heatmap(steps: np.ndarray, norms: np.ndarray, path: Path, *, title: str) -> Path:
    """norms (S, L, T): one panel per layer, timestep across, training step up."""
    plt = _pyplot()
    S, L, T = norms.shape
    fig, axes = plt.subplots(1, L, figsize=(4.5 * L + 1, 3.8), squeeze=False)
    values = _log10(norms)
    finite = values[np.isfinite(values)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (-1, 0)
    for l, ax in enumerate(axes[0]):
        image = ax.imshow(values[:, l], aspect="auto", origin="lower", vmin=lo, vmax=hi,
                          extent=(-0.5, T - 0.5, 0, S), cmap="viridis", interpolation="nearest")
        ticks = np.linspace(0, S - 1, min(S, 5)).astype(int)
        ax.set_yticks(ticks + 0.5, [str(steps[i]) for i in ticks])
        ax.set_xlabel("timestep t (loss at the right)")
        ax.set_ylabel("training step")
        ax.set_title(f"layer {l + 1}")
    fig.colorbar(image, ax=axes[0].tolist(), label="log10 ||dL/dh_t||")
    fig.suptitle(title)
    return _save(fig, path, tight=False)


def summary_lines(summary: dict) -> list[str]:
    """The summary figures as short lines (also printed by ``rnnkit diagnose``)."""
    lines = []
    if "vanishing_factor" in summary:
        factors = ", ".join(f"{f:.2e}" for f in summary["vanishing_factor"])
        lines.append(f"vanishing factor g_0/g_T-1 per layer: {factors}")
    lines.append(f"clipping fired on {summary['clip_share']:.1%} of {summary['steps']} steps")
    lines.append(f"largest pre-clip gradient norm: {summary['max_grad_norm']:.3g}")
    lines.append(f"NaN/Inf steps skipped: {summary['bad_steps']}"
                 + (f"; non-finite gradient entries in probes: {summary['nonfinite']}"
                    if "nonfinite" in summary else ""))
    return lines


def plot_distance(norms: np.ndarray, path: Path, *, title: str, summary: dict,
                  labels: tuple[str, str] = ("first probe", "last probe")) -> Path:
    """g^l against distance from the loss, for the first and the last probe, log scale."""
    plt = _pyplot()
    S, L, T = norms.shape
    fig, ax = plt.subplots(figsize=(7, 4.2))
    distance = np.arange(T)
    for l in range(L):
        line, = ax.semilogy(distance, norms[-1, l, ::-1], label=f"layer {l + 1}, {labels[1]}")
        if S > 1:
            ax.semilogy(distance, norms[0, l, ::-1], "--", color=line.get_color(), alpha=0.6,
                        label=f"layer {l + 1}, {labels[0]}")
    ax.set_xlabel("distance from the loss (T - 1 - t)")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.text(0.99, 0.99, "\n".join(summary_lines(summary)), transform=ax.transAxes, fontsize=7,
            ha="right", va="top", bbox=dict(facecolor="white", alpha=0.8, edgecolor="0.8"))
    return _save(fig, path)


def write_report(run_dir: str | Path, *, cell: str, title: str) -> dict:
    """Read the run's gradient flow and metrics, draw both figures, write diagnostics.json."""
    run_dir = Path(run_dir)
    steps, norms = read_flow(run_dir / FLOW_FILE)
    metrics_path = run_dir / "metrics.jsonl"
    metrics = read_metrics(metrics_path) if metrics_path.is_file() else []
    summary = summarize(metrics, norms[-1], cell=cell)
    flows = [r for r in read_metrics(run_dir / FLOW_FILE) if "nonfinite" in r]
    summary["nonfinite"] = sum(r["nonfinite"] for r in flows)
    summary["probes"] = int(len(steps))
    plot_heatmap(steps, norms, run_dir / HEATMAP_FILE, title=f"{title}: gradient flow")
    plot_distance(norms, run_dir / DISTANCE_FILE, title=f"{title}: gradient vs distance",
                  summary=summary)
    text = json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                       for k, v in summary.items()}, indent=2)
    atomic_write(run_dir / SUMMARY_FILE, lambda tmp: tmp.write_text(text))
    return summary


def finish_probe(probe, run_dir: str | Path, *, cell: str, title: str) -> dict | None:
    """After training with ``diagnostics.training_probe``: draw the figures and write the
    summary (``write_report``) when the probe recorded anything; None otherwise."""
    if probe is None or not (Path(run_dir) / FLOW_FILE).is_file():
        return None
    return write_report(run_dir, cell=cell, title=title)
