"""The regularisers of the AWD-LSTM language model, as pure functions.

Merity, Keskar & Socher 2018, "Regularizing and Optimizing LSTM Language Models" (ICLR;
arXiv 1708.02182), sec. 2-4. Each one is only ever applied in training:

- weight drop (sec. 2; DropConnect, Wan et al. 2013) on the hidden-to-hidden matrices::

      W_hh' = M * W_hh / (1 - p),   M_ij ~ Bernoulli(1 - p)

  one mask per matrix and forward, so every timestep, lane and window position of that forward
  uses the same dropped matrix; the recurrence itself is untouched, so the fast kernels run it;
- embedding dropout (sec. 4.3; Gal & Ghahramani 2016): whole rows (words) of the embedding
  matrix, so a dropped word is dropped at every position of the batch::

      E' = m * E / (1 - p),   m_v ~ Bernoulli(1 - p) per word v

- locked (variational) dropout (sec. 4.2): one (B, 1, C) mask per sequence, the same at every
  timestep, rather than a fresh mask per element;
- activation regularisation and temporal activation regularisation (sec. 4.6)::

      AR  = alpha * mean((m * h_t)^2)                   the last layer's dropped outputs
      TAR = beta  * mean((h_t - h_{t+1})^2)             its undropped outputs

>>> import torch
>>> w = torch.ones(4, 3)
>>> torch.manual_seed(0) and None
>>> sorted(set(embedded_dropout(w, 0.5).sum(1).tolist()) - {0.0})
[6.0]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

RECURRENT_WEIGHTS = "weight_hh"   # the prefix of the hidden-to-hidden matrices (weight_hh_l0...)


def weight_dropped(module: nn.Module, p: float) -> dict[str, Tensor]:
    """{name: dropped matrix} for every hidden-to-hidden matrix ``weight_hh_l*`` of ``module``,
    each ``F.dropout(W_hh, p)`` (one fresh mask, kept entries scaled by 1/(1 - p)).

    Run the module on them with ``torch.func.functional_call(module, dropped, args)``: the
    rnnkit layers read their parameters by name at every forward, on every path (fused,
    explicit, loop), so the dropped matrices are the ones used and the gradient reaches the raw
    ``W_hh`` through the mask.
    """
    return {name: F.dropout(w, p, training=True) for name, w in module.named_parameters()
            if name.startswith(RECURRENT_WEIGHTS)}


def embedding_row_mask(weight: Tensor, p: float) -> Tensor:
    """(V, 1): 1/(1 - p) for a kept word, 0 for a dropped one."""
    return weight.new_empty((weight.shape[0], 1)).bernoulli_(1.0 - p).div_(1.0 - p)


def embedded_dropout(weight: Tensor, p: float) -> Tensor:
    """The embedding matrix (V, E) with whole rows dropped and the kept ones scaled by 1/(1 - p)
    (AWD-LSTM's ``embedded_dropout``); look tokens up in it with ``F.embedding``."""
    return weight * embedding_row_mask(weight, p)                    # (V, E)


def locked_dropout(x: Tensor, p: float) -> Tensor:
    """x (B, T, C) with one mask per sequence and channel, shared over time, kept units scaled
    by 1/(1 - p)."""
    mask = x.new_empty((x.shape[0], 1, x.shape[2])).bernoulli_(1.0 - p).div_(1.0 - p)  # (B, 1, C)
    return x * mask                                                  # (B, T, C)


def activation_penalty(dropped: Tensor, h: Tensor, alpha: float, beta: float) -> Tensor:
    """``alpha * mean(dropped^2) + beta * mean((h[:, 1:] - h[:, :-1])^2)`` in float32.

    ``dropped`` (B, T, H): the last layer's outputs after the dropout before the head (AR);
    ``h`` (B, T, H): the same outputs before it (TAR). A window of one step has no temporal
    difference: its TAR term is 0.
    """
    total = dropped.new_zeros((), dtype=torch.float32)
    if alpha:
        total = total + alpha * dropped.float().pow(2).mean()
    if beta and h.shape[1] > 1:
        h = h.float()
        total = total + beta * (h[:, 1:] - h[:, :-1]).pow(2).mean()  # (B, T-1, H) -> ()
    return total
