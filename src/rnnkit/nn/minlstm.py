"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?", arXiv 2410.01201, section 3.2).

An LSTM whose gates read x_t alone, without the output gate or the cell/hidden split, and whose
forget and input gates are normalised to sum to one, so that the state's scale does not grow with
time. Gate order in the fused weights is **f, i, h** (forget, input, candidate); the state is h.

.. math::
    f_t &= \\sigma(W_f x_t + b_f), \\qquad i_t = \\sigma(W_i x_t + b_i) \\\\
    f'_t &= \\frac{f_t}{f_t + i_t}, \\qquad i'_t = \\frac{i_t}{f_t + i_t} \\\\
    \\tilde h_t &= g(W_h x_t + b_h) \\\\
    h_t &= f'_t \\odot h_{t-1} + i'_t \\odot \\tilde h_t

Since f' + i' = 1 this is minGRU's interpolation with z = i' = sigmoid(d), d = log i - log f,
where ``log f = logsigmoid(k_f)`` and ``log i = logsigmoid(k_i)`` (appendix B.3.2); the parallel
mode uses ``log f' = logsigmoid(-d)`` and ``log i' = logsigmoid(d)``.

>>> import torch
>>> cell = MinLSTMCell(3, 5)
>>> y, h = cell.step(torch.randn(2, 3), torch.zeros(2, 5))
>>> out, h_n = MinLSTM(3, 5)(torch.randn(2, 7, 3))
>>> out.shape, h_n.shape
(torch.Size([2, 7, 5]), torch.Size([1, 2, 5]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.nn.linear_recurrence import g, log_g
from rnnkit.nn.minimal import MinimalCell, MinimalRecurrent


class MinLSTMCell(MinimalCell):
    """minLSTM cell with gates (f, i, h) and state h (B, H)."""

    num_gates = 3

    @staticmethod
    def _log_i_over_f(k_f: Tensor, k_i: Tensor) -> Tensor:
        """d = log i - log f, so that i' = i / (f + i) = sigmoid(d) and f' = sigmoid(-d)."""
        return F.logsigmoid(k_i) - F.logsigmoid(k_f)

    def gates(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, p = xp.chunk(3, dim=-1)                # each (..., H)
        return torch.sigmoid(self._log_i_over_f(k_f, k_i)), g(p)   # i' = i / (f + i)

    def log_gates(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, p = xp.chunk(3, dim=-1)
        d = self._log_i_over_f(k_f, k_i)
        return F.logsigmoid(-d), F.logsigmoid(d) + log_g(p)          # log f', log i' + log h~


class MinLSTM(MinimalRecurrent):
    """Stacked minLSTM layers: ``(input_size, hidden_size, num_layers=1, bias=True, dropout=0.0,
    *, mode="auto")``, or a :class:`~rnnkit.nn.minimal.MinimalConfig` with cell="minlstm"."""

    cell_name = "minlstm"
    cell_class = MinLSTMCell
