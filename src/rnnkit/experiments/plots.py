"""Line plots for experiment reports (matplotlib, files only)."""

from __future__ import annotations

from pathlib import Path


def line_plot(x: list, series: dict[str, list], path: Path, *, xlabel: str, ylabel: str,
              title: str, logx: bool = False, logy: bool = False, hline: float | None = None,
              hline_label: str = "") -> str:
    """One line per series against ``x``; returns the file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, ys in series.items():
        xs = x if len(ys) == len(x) else x[:len(ys)]
        ax.plot(xs, ys, "o-", label=label, markersize=3, linewidth=1.2)
    if hline is not None:
        ax.axhline(hline, color="0.5", linestyle=":", label=hline_label or None)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name
