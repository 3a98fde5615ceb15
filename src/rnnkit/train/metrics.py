"""Metrics as JSON lines, and a learning-curve plot drawn from them.

One record per line, appended and flushed as training goes, so a crashed or interrupted run
keeps every line written before it stopped and a resumed run appends to the same file. The
trainer writes two kinds of record (see ``rnnkit.train.loop``)::

    {"kind": "train", "step": 10, "loss": 2.1, "loss_avg": 2.3, "grad_norm": 0.8, ...}
    {"kind": "eval",  "step": 200, "loss": 1.9, "tokens": 65536, ...}

Non-finite numbers are written as ``null`` so every line is strict JSON.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from rnnkit.data.text import atomic_write
from rnnkit.errors import RnnkitError

LN2 = math.log(2.0)  # nats per bit: bits-per-character = loss / LN2


class MetricsLog:
    """Appends one JSON object per line to ``path`` (created with its folder if missing)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict) -> None:
        """Append ``record`` as one line and flush it to the OS."""
        line = json.dumps(_strict(record), allow_nan=False, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()


def _strict(x: object) -> object:
    """Replace NaN/Inf floats by None, recursively, so the line is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_strict(v) for v in x]
    return x


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """All records of a metrics file, in order.

    A last line without its newline (the run was killed mid-write) is dropped if it does not
    parse; a bad line anywhere else raises RnnkitError naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise RnnkitError(f"metrics file '{path}' does not exist")
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # unterminated last line: an interrupted write
                break
            raise RnnkitError(f"line {number} of metrics file '{path}' is not JSON") from None
    return records


def plot_learning_curve(
    records: list[dict],
    png_path: str | os.PathLike,
    *,
    bpc: bool = False,
    title: str = "learning curve",
) -> Path:
    """Draw training loss (or bits per character) and validation points against step, with the
    pre-clip gradient norm on a second, log-scale panel; write ``png_path`` atomically.

    ``bpc=True`` divides losses in nats by ln 2 (a character LM's bits per character).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display; set before pyplot is imported
    import matplotlib.pyplot as plt

    scale, unit = (1.0 / LN2, "bits per char") if bpc else (1.0, "loss (nats)")
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval" and r.get("loss") is not None]

    def series(rows: list[dict], key: str) -> tuple[list, list]:
        pairs = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        return [s for s, _ in pairs], [v for _, v in pairs]

    fig, (ax_loss, ax_grad) = plt.subplots(
        2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    steps, loss = series(train, "loss_avg" if any("loss_avg" in r for r in train) else "loss")
    ax_loss.plot(steps, [v * scale for v in loss], label="train", linewidth=1)
    steps, loss = series(evals, "loss")
    ax_loss.plot(steps, [v * scale for v in loss], "o-", label="validation", markersize=4)
    ax_loss.set_ylabel(unit)
    ax_loss.set_title(title)
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    steps, norm = series(train, "grad_norm")
    if any(v > 0 for v in norm):
        ax_grad.semilogy(steps, norm, linewidth=1)
    ax_grad.set_ylabel("grad norm (pre-clip)")
    ax_grad.set_xlabel("step")
    ax_grad.grid(alpha=0.3)
    fig.tight_layout()
    try:
        return atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
