"""Accuracy, macro-F1, a per-class table and a confusion-matrix plot, from label ids.

For K classes with confusion counts ``C[i, j]`` (true i, predicted j)::

    precision_k = C[k, k] / sum_i C[i, k]      recall_k = C[k, k] / sum_j C[k, j]
    F1_k = 2 P_k R_k / (P_k + R_k)             macro-F1 = mean_k F1_k

(a class never predicted and never present counts F1 = 0 only if it is present; classes
absent from the truth and the predictions are left out of the mean, as scikit-learn does with
``labels=`` the present ones).

>>> import numpy as np
>>> m = classification_report(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), ("a", "b", "c"))
>>> round(m["accuracy"], 2), round(m["macro_f1"], 3)
(0.75, 0.778)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rnnkit.data.text import atomic_write


def confusion(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts: row = true class, column = predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (truth, predicted), 1)
    return m


def classification_report(truth: np.ndarray, predicted: np.ndarray,
                          labels: tuple[str, ...]) -> dict:
    """``{"accuracy", "macro_f1", "count", "per_class": [{label, precision, recall, f1,
    support}], "confusion": [[...]]}``."""
    m = confusion(np.asarray(truth), np.asarray(predicted), len(labels))
    tp = np.diag(m).astype(float)
    support, predicted_n = m.sum(1), m.sum(0)
    precision = np.divide(tp, predicted_n, out=np.zeros_like(tp), where=predicted_n > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = (support + predicted_n) > 0
    return {
        "accuracy": float(tp.sum() / max(m.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "count": int(m.sum()),
        "per_class": [{"label": lab, "precision": float(p), "recall": float(r), "f1": float(f),
                       "support": int(s)}
                      for lab, p, r, f, s in zip(labels, precision, recall, f1, support)],
        "confusion": m.tolist(),
    }


def format_report(report: dict) -> str:
    """The per-class table as aligned text lines."""
    width = max(8, *(len(r["label"]) for r in report["per_class"]))
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    for r in report["per_class"]:
        lines.append(f"{r['label']:<{width}}  {r['precision']:9.3f}  {r['recall']:6.3f}  "
                     f"{r['f1']:5.3f}  {r['support']:7d}")
    return "\n".join(lines)


def plot_confusion(report: dict, labels: tuple[str, ...], png_path: str | os.PathLike, *,
                   title: str = "confusion matrix") -> Path:
    """Row-normalised confusion matrix (recall per true class) with counts; atomic PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(report["confusion"], dtype=float)
    rows = m.sum(1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    K = len(labels)
    size = min(3 + 0.45 * K, 14)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(K), labels, rotation=90 if K > 6 else 0)
    ax.set_yticks(range(K), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (accuracy {report['accuracy']:.3f}, macro-F1 "
                 f"{report['macro_f1']:.3f})", fontsize=9)
    if K <= 20:
        for i in range(K):
            for j in range(K):
                if m[i, j]:
                    ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    fig.tight_layout()
    try:
        return atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
