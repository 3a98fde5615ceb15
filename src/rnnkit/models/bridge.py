"""A vector -> a recurrent decoder's initial state, and the top layer's hidden of a state.

Decoders (the conditional generator, the seq2seq decoder) start from a state computed from
something else: a condition embedding, or a summary of the encoded source. The state layout is
the encoder's own (:mod:`rnnkit.models.encoders`): ``(h, c)`` each (L, B, H) for an LSTM, ``h``
(L, B, H) for GRU, Elman RNN, minGRU and minLSTM. The stateless baselines (mlp, cnn,
transformer) carry a window of inputs, not a state, so they cannot be initialised from a
vector and are refused as decoders.

    s_0^l = tanh(W^l v + b^l),   c_0^l = 0 (LSTM)          for each layer l

(the "bridge" of Bahdanau et al. 2015, appendix A.2.2: s_0 = tanh(W_s mean_j h_j)).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import STATELESS, check_cell


def check_decoder_cell(cell: str) -> None:
    """One line for a cell that cannot start from a given state."""
    check_cell(cell)
    if cell in STATELESS:
        raise RnnkitError(f"{cell} has no recurrent state to start from a condition or a "
                          "source summary; use lstm, gru, rnn, mingru or minlstm as decoder")


class StateBridge(nn.Module):
    """v (B, I) -> the initial state of an L-layer decoder of width H."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        check_decoder_cell(cell)
        self.cell, self.layers, self.hidden = cell, num_layers, hidden_size
        self.proj = nn.Linear(input_size, num_layers * hidden_size)

    def forward(self, v: Tensor):
        B = v.shape[0]
        h = torch.tanh(self.proj(v)).view(B, self.layers, self.hidden)   # (B, L, H)
        h = h.transpose(0, 1).contiguous()                                # (L, B, H)
        return (h, torch.zeros_like(h)) if self.cell == "lstm" else h


def top_hidden(state) -> Tensor:
    """The last layer's hidden state (B, H) of a decoder state in the layout above."""
    h = state[0] if isinstance(state, tuple) else state
    return h[-1]
