"""A causal dilated 1-D convolution baseline (WaveNet-style stack without gates).

van den Oord et al. 2016, "WaveNet" (sec. 2.1, dilated causal convolutions); Bai, Kolter & Koltun
2018, "An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence
Modeling" (the TCN). An input projection, then L residual blocks; block l convolves with kernel K
and dilation ``dilation_base**l``, padded on the left only, so the output at t never reads a
later input:

.. math::
    h^0_t = W_0 x_t + b_0, \\qquad
    h^l_t = h^{l-1}_t + \\mathrm{ReLU}\\Big(\\sum_{j=0}^{K-1} W_{l,j}\\, h^{l-1}_{t - j d_l} + b_l\\Big),
    \\quad d_l = \\mathrm{base}^{l-1}

The receptive field (inputs one output can see) is R = 1 + (K - 1) * sum_l d_l; older inputs are
out of reach. The state passed between calls is the last R - 1 inputs (:mod:`.window`); with
``state=None`` the sequence is preceded by R - 1 zero inputs, so chunked runs equal whole runs.

>>> import torch
>>> cnn = CNNEncoder(CNNConfig(input_size=3, hidden_size=8, num_layers=3, kernel_size=2))
>>> cnn.receptive_field
8
>>> y, state = cnn(torch.randn(2, 5, 3))
>>> y.shape, state.shape
(torch.Size([2, 5, 8]), torch.Size([2, 7, 3]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.baselines.common import check_dropout, check_input, check_sizes, zero_padded
from rnnkit.models.baselines.window import next_context, with_context


@dataclass(frozen=True)
class CNNConfig:
    """A stack of causal dilated convolutions with residual connections."""

    input_size: int          # I: features per timestep
    hidden_size: int         # H: channels of every block (the output size)
    num_layers: int = 4      # L: residual convolution blocks
    kernel_size: int = 3     # K: taps per convolution
    dilation_base: int = 2   # block l (from 1) has dilation base**(l-1): 1, 2, 4, ...
    dropout: float = 0.0     # on each block's convolution branch, in training

    def __post_init__(self) -> None:
        check_sizes(self, ("input_size", "hidden_size", "num_layers", "kernel_size",
                           "dilation_base"))
        check_dropout(self.dropout)

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(self.dilation_base ** l for l in range(self.num_layers))

    @property
    def receptive_field(self) -> int:
        """R = 1 + (K - 1) * sum of dilations: the inputs one output depends on."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)


class CNNEncoder(nn.Module):
    """Input projection, then L residual blocks of causal dilated convolution + ReLU."""

    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        self.config = config
        H, K = config.hidden_size, config.kernel_size
        self.proj = nn.Linear(config.input_size, H)
        self.convs = nn.ModuleList(nn.Conv1d(H, H, K, dilation=d) for d in config.dilations)

    output_size = property(lambda self: self.config.hidden_size)
    receptive_field = property(lambda self: self.config.receptive_field)

    def forward_layers(self, x: Tensor, state: Tensor | None = None, *,
                       lengths: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        """x (B, T, I) -> ([h^l (B, T, H) for each block], last R - 1 inputs (B, R-1, I))."""
        c = self.config
        check_input(x, c.input_size, lengths)
        T = x.shape[1]
        keep = c.receptive_field - 1
        z = with_context(x, state, keep, zeros=True)                 # (B, P + T, I), P = R - 1
        P = z.shape[1] - T
        h = self.proj(z)                                             # (B, P + T, H)
        layers = []
        for conv, d in zip(self.convs, c.dilations):
            left = F.pad(h.transpose(1, 2), ((c.kernel_size - 1) * d, 0))  # (B, H, pad + P + T)
            branch = F.relu(conv(left)).transpose(1, 2)              # (B, P + T, H)
            if c.dropout and self.training:
                branch = F.dropout(branch, c.dropout, training=True)
            h = h + branch
            out = zero_padded(h[:, P:], lengths)                     # (B, T, H): x's positions
            layers.append(out)
            h = torch.cat([h[:, :P], out], dim=1)                    # the next block reads `out`
        return layers, next_context(z, keep)

    def forward(self, x: Tensor, state: Tensor | None = None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (B, T, I) -> (outputs (B, T, H), the last R - 1 inputs (B, R-1, I))."""
        layers, state = self.forward_layers(x, state, lengths=lengths)
        return layers[-1], state
