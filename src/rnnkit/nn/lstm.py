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

``torch.nn.LSTMCell``'s signature, parameters and initialisation. Two rnnkit additions,
keyword-only: ``forget_bias=1.0`` starts the forget-gate bias at 1 (Gers et al. 2000; Jozefowicz
et al. 2015, "An Empirical Exploration of Recurrent Network Architectures"), so the cell
remembers early in training (rnnkit's models use it; the default None keeps ``torch.nn``'s
uniform initialisation); ``proj_size=P`` projects h to P features, h_t = W_hr (o_t * tanh(c_t)),
as ``torch.nn.LSTM(proj_size=P)`` does in each layer (Sak et al. 2014), with ``weight_hr`` (P, H)
and ``weight_hh`` (4H, P); the state is then (h (B, P), c (B, H)).

>>> import torch
>>> cell = LSTMCell(3, 5)
>>> h0 = (torch.zeros(2, 5), torch.zeros(2, 5))
>>> y, (h, c) = cell.step(torch.randn(2, 3), h0)
>>> c.shape
torch.Size([2, 5])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.nn.cell import RecurrentCell


class LSTMCell(RecurrentCell):
    """LSTM cell with gates (i, f, g, o) and state (h, c), each (B, H)."""

    num_gates = 4
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, forget_bias: float | None = None, proj_size: int = 0) -> None:
        self.forget_bias = forget_bias
        self.proj_size = proj_size
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def extra_parameters(self, factory: dict) -> None:
        if self.proj_size:
            self.weight_hr = nn.Parameter(torch.empty(self.proj_size, self.hidden_size,
                                                      **factory))     # (P, H)

    @property
    def state_widths(self) -> tuple[int, int]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def reset_parameters(self) -> None:
        """``torch.nn`` init, then bias_ih[f] = forget_bias and bias_hh[f] = 0 (their sum is
        the bias) when ``forget_bias`` is set."""
        super().reset_parameters()
        if self.forget_bias is not None and self.bias_ih is not None:
            H = self.hidden_size
            with torch.no_grad():
                self.bias_ih[H:2 * H].fill_(self.forget_bias)
                self.bias_hh[H:2 * H].zero_()

    def extra_repr(self) -> str:
        s = super().extra_repr()
        s += f", proj_size={self.proj_size}" if self.proj_size else ""
        return s if self.forget_bias is None else f"{s}, forget_bias={self.forget_bias}"

    def step_projected(self, xp_t: Tensor, state: tuple[Tensor, Tensor], *,
                       recurrent_mask: Tensor | None = None
                       ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state                                     # (B, P or H), (B, H)
        h, c = lstm_update(xp_t + self.project_hidden(h, recurrent_mask), c)   # gates (B, 4H)
        if self.proj_size:
            h = h @ self.weight_hr.T                     # (B, P)
        return h, (h, c)


def lstm_update(gates: Tensor, c: Tensor, normalise_c=None) -> tuple[Tensor, Tensor]:
    """(h_t, c_t) from the gate pre-activations (B, 4H), order i, f, g, o, and c_{t-1} (B, H);
    ``normalise_c`` is applied to c_t before its tanh (the layer-normalised LSTM), or None."""
    i, f, g, o = gates.chunk(4, dim=-1)                  # each (B, H)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c if normalise_c is None else normalise_c(c))
    return h, c
