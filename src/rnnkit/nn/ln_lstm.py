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
parameters keep ``torch.nn``'s names: ``bias_ih`` and ``bias_hh`` are the shifts of the two
projections (bias_ih[f] starts at ``forget_bias`` when it is set), ``gain_ih``, ``gain_hh`` and
``gain_c`` start at 1, ``bias_c`` at 0. m is the optional variational dropout mask (:mod:`rnnkit.nn.cell`).
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
from rnnkit.nn.lstm import lstm_update

LN_EPS = 1e-5      # epsilon of every layer normalisation (torch's default)


class LayerNormLSTMCell(RecurrentCell):
    """LSTM cell with layer normalisation on both projections and on c; state (h, c)."""

    num_gates = 4
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, forget_bias: float | None = None) -> None:
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def extra_parameters(self, factory: dict) -> None:
        """The gains and the cell state's shift, after weight_ih, weight_hh, bias_ih, bias_hh."""
        H = self.hidden_size
        self.gain_ih = nn.Parameter(torch.empty(4 * H, **factory))             # (4H,)
        self.gain_hh = nn.Parameter(torch.empty(4 * H, **factory))             # (4H,)
        self.gain_c = nn.Parameter(torch.empty(H, **factory))                  # (H,)
        if self.bias:
            self.bias_c = nn.Parameter(torch.empty(H, **factory))              # (H,)
        else:
            self.register_parameter("bias_c", None)

    def reset_parameters(self) -> None:
        """Weights U(-1/sqrt(H), 1/sqrt(H)); gains 1; shifts 0 but bias_ih[f] = forget_bias."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        # Drawn twice, as this cell always has (it used to initialise itself twice), so that a
        # seed still gives the runs it gave before.
        for _ in range(2):
            nn.init.uniform_(self.weight_ih, -bound, bound)
            nn.init.uniform_(self.weight_hh, -bound, bound)
        with torch.no_grad():
            for gain in (self.gain_ih, self.gain_hh, self.gain_c):
                gain.fill_(1.0)
            for shift in (self.bias_ih, self.bias_hh, self.bias_c):
                if shift is not None:
                    shift.zero_()
            if self.bias_ih is not None and self.forget_bias is not None:
                H = self.hidden_size
                self.bias_ih[H:2 * H].fill_(self.forget_bias)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.forget_bias is None else f"{s}, forget_bias={self.forget_bias}"

    def project_input(self, x: Tensor) -> Tensor:
        """LN(x @ weight_ih.T; gain_ih, bias_ih): (..., I) -> (..., 4H), all timesteps at once."""
        return self.normalise_input(F.linear(x, self.weight_ih))

    def normalise_input(self, xw: Tensor) -> Tensor:
        """LN(xw; gain_ih, bias_ih) of the input product xw = x @ weight_ih.T:
        (..., 4H) -> (..., 4H)."""
        return F.layer_norm(xw, (4 * self.hidden_size,), self.gain_ih, self.bias_ih, LN_EPS)

    def project_hidden(self, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """LN((m * h) @ weight_hh.T; gain_hh, bias_hh): (B, H) -> (B, 4H)."""
        u = h if recurrent_mask is None else h * recurrent_mask
        return F.layer_norm(F.linear(u, self.weight_hh), (4 * self.hidden_size,), self.gain_hh,
                            self.bias_hh, LN_EPS)

    def step_projected(self, xp_t: Tensor, state: tuple[Tensor, Tensor], *,
                       recurrent_mask: Tensor | None = None
                       ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state                                     # each (B, H)
        gates = xp_t + self.project_hidden(h, recurrent_mask)     # (B, 4H)
        h, c = lstm_update(gates, c, lambda c: F.layer_norm(c, (self.hidden_size,), self.gain_c,
                                                             self.bias_c, LN_EPS))
        return h, (h, c)
