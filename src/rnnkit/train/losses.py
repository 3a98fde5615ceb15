"""The losses of rnnkit's tasks: mean cross-entropies in nats, padding skipped.

Each is ``loss(outputs, targets) -> scalar``, what :class:`~rnnkit.train.loop.Trainer` calls.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.padded import IGNORE


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean next-token cross-entropy in nats: logits (B, T, V), targets (B, T)."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def seq_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy per real target symbol: logits (B, T, V), targets (B, T) with IGNORE."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


# A tagger's loss is the same: one tag per real token, padding IGNOREd.
tag_loss = seq_loss


def classify_loss(weight: Tensor | None):
    """Mean cross-entropy of logits (B, K) against labels (B,), optionally class-weighted."""
    def loss(logits: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(logits, targets, weight=weight)
    return loss


def balanced_weights(labels: list[int], num_classes: int) -> Tensor:
    """``n / (K n_k)`` per class (King & Zeng 2001; scikit-learn's "balanced")."""
    counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float64)
    return torch.tensor(len(labels) / (num_classes * np.maximum(counts, 1)),
                        dtype=torch.float32)
