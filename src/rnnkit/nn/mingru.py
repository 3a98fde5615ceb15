"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?", arXiv 2410.01201, section 3.1).

A GRU whose update gate and candidate read x_t alone, so it trains without backpropagation
through a nonlinear recurrence. Gate order in the fused weights is **z, h** (update, candidate);
the state is h, and the output is h.

.. math::
    z_t &= \\sigma(W_z x_t + b_z) \\\\
    \\tilde h_t &= g(W_h x_t + b_h) \\\\
    h_t &= (1 - z_t) \\odot h_{t-1} + z_t \\odot \\tilde h_t

with g(x) = x + 0.5 for x >= 0 and sigmoid(x) below (:func:`rnnkit.nn.linear_recurrence.g`),
which keeps the candidate positive so that the parallel mode can work in log space (appendix B.3):
``log(1 - z_t) = logsigmoid(-k)`` and ``log z_t = logsigmoid(k)`` for k = W_z x_t + b_z.

>>> import torch
>>> cell = MinGRUCell(3, 5)
>>> y, h = cell.step(torch.randn(2, 3), torch.zeros(2, 5))
>>> layer = MinGRU(3, 5, num_layers=2)
>>> out, h_n = layer(torch.randn(2, 7, 3), lengths=torch.tensor([7, 4]))
>>> out.shape, h_n.shape
(torch.Size([2, 7, 5]), torch.Size([2, 2, 5]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.nn.linear_recurrence import g, log_g
from rnnkit.nn.minimal import MinimalCell, MinimalRecurrent


class MinGRUCell(MinimalCell):
    """minGRU cell with gates (z, h) and state h (B, H)."""

    num_gates = 2

    def gates(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k, p = xp.chunk(2, dim=-1)                       # each (..., H)
        return torch.sigmoid(k), g(p)

    def log_gates(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k, p = xp.chunk(2, dim=-1)
        return F.logsigmoid(-k), F.logsigmoid(k) + log_g(p)


class MinGRU(MinimalRecurrent):
    """Stacked minGRU layers: ``(input_size, hidden_size, num_layers=1, bias=True, dropout=0.0,
    *, mode="auto")``, or a :class:`~rnnkit.nn.minimal.MinimalConfig` with cell="mingru"."""

    cell_name = "mingru"
    cell_class = MinGRUCell
