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


def forecast_loss(config, *, relative: bool = False):
    """The loss of a :class:`~rnnkit.models.forecaster.Forecaster` over window targets
    (B, L + H, 3) = (scaled value, observed, scale):

    * likelihood head, raw (B, L + H, P): the mean negative log-likelihood of every observed
      step after the first (each predicted from the steps before it, DeepAR's teacher forcing);
    * quantile head, q (B, H, Q): the mean pinball loss over the quantile levels of the H
      observed future steps, on the scaled series (so every series weighs alike);
      ``relative`` divides each step's loss by |y| instead, so the median level minimises a
      MAPE (N-BEATS trains on Tourism with a MAPE loss).
    """
    from rnnkit.models.likelihoods import LIKELIHOODS, pinball
    if config.head == "likelihood":
        head = LIKELIHOODS[config.likelihood]

        def likelihood_loss(raw: Tensor, targets: Tensor) -> Tensor:
            value, observed, scale = targets[:, 1:].unbind(-1)
            y = value * scale
            if head.counts:
                y = torch.round(y)
            w = observed
            return (head.nll(raw[:, 1:], y, scale) * w).sum() / w.sum().clamp_min(1.0)

        return likelihood_loss
    levels = torch.tensor(config.quantiles)

    def quantile_loss(q: Tensor, targets: Tensor) -> Tensor:
        value, observed, _ = targets[:, config.context:].unbind(-1)
        per_step = pinball(value, q, levels.to(q.device)).mean(-1)          # (B, H)
        if relative:                                      # |y| in units of the scale
            per_step = per_step / value.abs().clamp_min(0.05)
        return (per_step * observed).sum() / observed.sum().clamp_min(1.0)

    return quantile_loss
