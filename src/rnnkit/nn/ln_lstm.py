"""Layer-normalised LSTM cell (Ba, Kiros & Hinton 2016, "Layer Normalization", section 3.1).

Layer normalisation, each with its own gain and shift, on the input projection, on the recurrent
projection (both over all 4H gate pre-activations) and on the cell state before the output tanh.
Gate order **i, f, g, o** and state **(h, c)**, as in :mod:`rnnkit.nn.lstm`:

.. math::
    \\mathrm{LN}(a; \\gamma, \\beta) &= \\gamma \\odot \\frac{a - \\mu(a)}{\\sqrt{\\sigma^2(a) + \\epsilon}}
        + \\beta \\\\
    [i, f, g, o]_t &= \\mathrm{LN}(W_{ih} x_t; \\gamma_{ih}, b_{ih})
        + \\mathrm{LN}(W_{hh} (m \\odot h_{t-1}); \\gamma_{hh}, b_{hh}) \\\\
    c_t &= \\sigma(f_t) \\odot c_{t-1} + \\sigma(i_t) \\odot \\tanh(g_t) \\\\
    h_t &= \\sigma(o_t) \\odot \\tanh(\\mathrm{LN}(c_t; \\gamma_c, \\beta_c))

The paper's separate bias b is folded into the two shifts (only their sum matters), so the
parameters keep ``torch.nn``'s names: ``b_ih`` and ``b_hh`` are the shifts of the two projections
(b_ih[f] starts at ``forget_bias``), ``gain_ih``, ``gain_hh`` and ``gain_c`` start at 1,
``bias_c`` at 0. m is the optional variational dropout mask (:mod:`rnnkit.nn.cell`).
``torch.nn`` has no such cell; the fast path is :mod:`rnnkit.nn.fast.explicit_lstm`.

>>> import torch
>>> cell = LayerNormLSTMCell(3, 5)
>>> y, (h, c) = cell.step(torch.randn(2, 3), (torch.zeros(2, 5), torch.zeros(2, 5)))
>>> y.shape
torch.Size([2, 5])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.nn.cell import RecurrentCell

LN_EPS = 1e-5      # epsilon of every layer normalisation (torch's default)


class LayerNormLSTMCell(RecurrentCell):
    """LSTM cell with layer normalisation on both projections and on c; state (h, c)."""

    num_gates = 4
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True,
                 forget_bias: float | None = 1.0) -> None:
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, bias=bias)     # w_ih, w_hh, b_ih, b_hh
        H = hidden_size
        self.gain_ih = nn.Parameter(torch.ones(4 * H))            # (4H,)
        self.gain_hh = nn.Parameter(torch.ones(4 * H))            # (4H,)
        self.gain_c = nn.Parameter(torch.ones(H))                 # (H,)
        self.bias_c = nn.Parameter(torch.zeros(H)) if bias else None   # (H,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights U(-1/sqrt(H), 1/sqrt(H)); gains 1; shifts 0 but b_ih[f] = forget_bias."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.w_ih, -bound, bound)
        nn.init.uniform_(self.w_hh, -bound, bound)
        if not hasattr(self, "gain_c"):                  # called again once they exist
            return
        with torch.no_grad():
            for gain in (self.gain_ih, self.gain_hh, self.gain_c):
                gain.fill_(1.0)
            for shift in (self.b_ih, self.b_hh, self.bias_c):
                if shift is not None:
                    shift.zero_()
            if self.b_ih is not None and self.forget_bias is not None:
                H = self.hidden_size
                self.b_ih[H:2 * H].fill_(self.forget_bias)

    def project_input(self, x: Tensor) -> Tensor:
        """LN(x @ w_ih.T; gain_ih, b_ih): (..., I) -> (..., 4H), all timesteps at once."""
        return self.normalise_input(F.linear(x, self.w_ih))

    def normalise_input(self, xw: Tensor) -> Tensor:
        """LN(xw; gain_ih, b_ih) of the input product xw = x @ w_ih.T: (..., 4H) -> (..., 4H)."""
        return F.layer_norm(xw, (4 * self.hidden_size,), self.gain_ih, self.b_ih, LN_EPS)

    def project_hidden(self, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """LN((m * h) @ w_hh.T; gain_hh, b_hh): (B, H) -> (B, 4H)."""
        u = h if recurrent_mask is None else h * recurrent_mask
        return F.layer_norm(F.linear(u, self.w_hh), (4 * self.hidden_size,), self.gain_hh,
                            self.b_hh, LN_EPS)

    def step_projected(self, xp_t: Tensor, state: tuple[Tensor, Tensor], *,
                       recurrent_mask: Tensor | None = None
                       ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state                                     # each (B, H)
        gates = xp_t + self.project_hidden(h, recurrent_mask)     # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)              # each (B, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        c_norm = F.layer_norm(c, (self.hidden_size,), self.gain_c, self.bias_c, LN_EPS)
        h = torch.sigmoid(o) * torch.tanh(c_norm)
        return h, (h, c)
