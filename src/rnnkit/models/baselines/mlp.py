"""A feed-forward baseline: each output sees only a fixed window of the last k inputs.

The explainer's foil ("a feed-forward network cannot remember the previous input"): with
``window=1`` it is one-to-one per position; with ``window=k`` the output at t reads the
concatenation of x_{t-k+1}, ..., x_t (zeros before the sequence start) and nothing older, so
whatever lies k or more steps back is out of reach by construction (Bengio et al. 2003, "A Neural
Probabilistic Language Model", is this model over word embeddings).

.. math::
    u_t = [x_{t-k+1}; \\dots; x_t] \\in R^{kI}, \\qquad
    h^1_t = \\mathrm{ReLU}(W_1 u_t + b_1), \\qquad h^l_t = \\mathrm{ReLU}(W_l h^{l-1}_t + b_l)

The state passed between calls is the last k - 1 inputs (:mod:`.window`), so chunked or
token-by-token runs equal one whole run.

>>> import torch
>>> mlp = MLPEncoder(MLPConfig(input_size=3, hidden_size=8, window=4))
>>> y, state = mlp(torch.randn(2, 5, 3))
>>> y.shape, state.shape
(torch.Size([2, 5, 8]), torch.Size([2, 3, 3]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.baselines.common import check_dropout, check_input, check_sizes, zero_padded
from rnnkit.models.baselines.window import next_context, with_context


@dataclass(frozen=True)
class MLPConfig:
    """A per-position (window=1) or fixed-window feed-forward encoder."""

    input_size: int          # I: features per timestep
    hidden_size: int         # H: width of every hidden layer (the output size)
    num_layers: int = 1      # L: hidden layers, each Linear + ReLU
    window: int = 1          # k: inputs x_{t-k+1..t} seen at t; 1 = one-to-one per position
    dropout: float = 0.0     # on every layer's output but the last, in training

    def __post_init__(self) -> None:
        check_sizes(self, ("input_size", "hidden_size", "num_layers", "window"))
        check_dropout(self.dropout)


class MLPEncoder(nn.Module):
    """L Linear+ReLU layers applied at each position to a window of the last k inputs."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.layers = nn.ModuleList(
            nn.Linear(c.window * c.input_size if l == 0 else c.hidden_size, c.hidden_size)
            for l in range(c.num_layers))

    output_size = property(lambda self: self.config.hidden_size)
    receptive_field = property(lambda self: self.config.window)   # inputs an output can see

    def forward_layers(self, x: Tensor, state: Tensor | None = None, *,
                       lengths: Tensor | None = None) -> tuple[list[Tensor], Tensor | None]:
        """x (B, T, I) -> ([h^l (B, T, H) for each layer], last k - 1 inputs (B, k-1, I))."""
        c = self.config
        check_input(x, c.input_size, lengths)
        B, T, _ = x.shape
        z = with_context(x, state, c.window - 1, zeros=True)        # (B, T + k - 1, I)
        u = z.unfold(1, c.window, 1)                                # (B, T, I, k)
        h = u.transpose(2, 3).reshape(B, T, c.window * c.input_size)  # (B, T, k*I), oldest first
        layers = []
        for l, linear in enumerate(self.layers):
            h = zero_padded(F.relu(linear(h)), lengths)             # (B, T, H)
            layers.append(h)
            if c.dropout and self.training and l < c.num_layers - 1:
                h = F.dropout(h, c.dropout, training=True)
        return layers, next_context(z, c.window - 1)

    def forward(self, x: Tensor, state: Tensor | None = None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """x (B, T, I) -> (outputs (B, T, H), the last k - 1 inputs or None when k = 1)."""
        layers, state = self.forward_layers(x, state, lengths=lengths)
        return layers[-1], state
