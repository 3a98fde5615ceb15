"""Long short-term memory cell (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000).

Gate order in the fused weights is **i, f, g, o** (input, forget, cell candidate, output), as in
``torch.nn.LSTM``; the state is **(h, c)**.

.. math::
    i_t &= \\sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\\\
    f_t &= \\sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\\\
    g_t &= \\tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\\\
    o_t &= \\sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\\\
    c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t \\\\
    h_t &= o_t \\odot \\tanh(c_t)

The forget-gate bias starts at 1 by default (Gers et al. 2000; Jozefowicz et al. 2015, "An
Empirical Exploration of Recurrent Network Architectures"), so the cell remembers by default
early in training; ``forget_bias=None`` keeps ``torch.nn``'s uniform initialisation.

>>> import torch
>>> cell = LSTMCell(3, 5)
>>> h0 = (torch.zeros(2, 5), torch.zeros(2, 5))
>>> y, (h, c) = cell.step(torch.randn(2, 3), h0)
>>> c.shape
torch.Size([2, 5])
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.nn.cell import RecurrentCell


class LSTMCell(RecurrentCell):
    """LSTM cell with gates (i, f, g, o) and state (h, c), each (B, H)."""

    num_gates = 4
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True,
                 forget_bias: float | None = 1.0) -> None:
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, bias=bias)

    def reset_parameters(self) -> None:
        """``torch.nn`` init, then b_ih[f] = forget_bias and b_hh[f] = 0 (their sum is the bias)."""
        super().reset_parameters()
        if self.forget_bias is not None and self.b_ih is not None:
            H = self.hidden_size
            with torch.no_grad():
                self.b_ih[H:2 * H].fill_(self.forget_bias)
                self.b_hh[H:2 * H].zero_()

    def step_projected(self, xp_t: Tensor, state: tuple[Tensor, Tensor], *,
                       recurrent_mask: Tensor | None = None
                       ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state                                     # each (B, H)
        gates = xp_t + self.project_hidden(h, recurrent_mask)     # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)              # each (B, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)
