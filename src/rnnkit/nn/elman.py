"""Elman recurrent cell (Elman 1990, "Finding Structure in Time").

.. math::
    h_t = \\phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \\quad y_t = h_t

with :math:`\\phi` = tanh (default) or ReLU, the formulation of ``torch.nn.RNN``.

>>> import torch
>>> cell = ElmanCell(3, 5)
>>> y, h = cell.step(torch.randn(2, 3), torch.zeros(2, 5))
>>> y.shape
torch.Size([2, 5])
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.nn.cell import RecurrentCell

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class ElmanCell(RecurrentCell):
    """The simple recurrent cell: one gate, state h (B, H); ``torch.nn.RNNCell``'s signature."""

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise RnnkitError(f"nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else f"{s}, nonlinearity={self.nonlinearity}"

    def step_projected(self, xp_t: Tensor, state: Tensor, *,
                       recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        phi = NONLINEARITIES[self.nonlinearity]
        h = phi(xp_t + self.project_hidden(state, recurrent_mask))  # (B, H)
        return h, h


class RNNCell(ElmanCell):
    """``torch.nn.RNNCell``'s name for :class:`ElmanCell`: ``RNNCell(input_size, hidden_size,
    bias=True, nonlinearity='tanh', device=None, dtype=None)``."""
