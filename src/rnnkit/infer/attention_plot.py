"""Attention maps as PNG: rows are output symbols, columns source symbols, shade the weight."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402


def plot_attention(weights: Tensor, source: list[str], output: list[str], path: str | Path, *,
                   title: str = "attention") -> Path:
    """Save weights (len(output), len(source)) as a heat map at ``path``."""
    w = weights[: len(output), : len(source)].detach().float().numpy()
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(source), 1 + 0.4 * len(output)))
    ax.imshow(w, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source)), source)
    ax.set_yticks(range(len(output)), output)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
