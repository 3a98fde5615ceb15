"""Gated recurrent unit (Cho et al. 2014, "Learning Phrase Representations using RNN
Encoder-Decoder"), in the formulation of ``torch.nn.GRU`` so that weights transfer.

Gate order in the fused weights is **r, z, n** (reset, update, candidate); the state is h.
The reset gate multiplies the recurrent projection *after* its bias (cuDNN's variant):

.. math::
    r_t &= \\sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\\\
    z_t &= \\sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\\\
    n_t &= \\tanh(W_{in} x_t + b_{in} + r_t \\odot (W_{hn} h_{t-1} + b_{hn})) \\\\
    h_t &= (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}

>>> import torch
>>> cell = GRUCell(3, 5)
>>> y, h = cell.step(torch.randn(2, 3), torch.zeros(2, 5))
>>> h.shape
torch.Size([2, 5])
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.nn.cell import RecurrentCell


class GRUCell(RecurrentCell):
    """GRU cell with gates (r, z, n) and state h (B, H)."""

    num_gates = 3

    def step_projected(self, xp_t: Tensor, state: Tensor, *,
                       recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = gru_update(xp_t, self.project_hidden(state, recurrent_mask), state)   # (B, H)
        return h, h


def gru_update(xp_t: Tensor, hp_t: Tensor, h: Tensor) -> Tensor:
    """h_t from xp_t = W_ih x_t + b_ih (B, 3H), hp_t = W_hh h_{t-1} + b_hh (B, 3H) and h_{t-1}
    (B, H): the equations above."""
    x_r, x_z, x_n = xp_t.chunk(3, dim=-1)                # each (B, H)
    h_r, h_z, h_n = hp_t.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return torch.lerp(n, h, z)                           # (1 - z) * n + z * h
