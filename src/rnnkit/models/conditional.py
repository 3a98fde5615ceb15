"""One-to-many: a single condition (a label or a feature vector) -> a whole sequence.

    condition k -> embedding c (B, C)          |  features f (B, F) -> c = W_f f (B, C)
    s_0 = tanh(W_s c)                           (the condition sets the initial state)
    x_t = [E y_{t-1} ; c]                       (B, E + C): and conditions every step
    s_t = cell(x_t, s_{t-1});  p(y_t | y_<t, c) = softmax(W_o s_t)

The condition enters twice, as in the image-captioning decoders it is modelled on (Vinyals et
al. 2015, "Show and Tell", sec. 3.1 feeds the image once to set the state; Mao et al. 2015,
"m-RNN", and Karpathy & Fei-Fei 2015 feed it at every step). Sequences start and end with one
boundary symbol (id ``end_id``): the model reads it first and is trained to emit it last, so
generation starts from it and stops when it comes out.

For the model-agnostic trainer a batch is packed into one tensor: ``inputs (B, 1 + T)`` holds
the condition id in column 0 and the tokens (boundary symbol first) after it; ``lengths``
counts column 0. :meth:`ConditionalGenerator.run` is the unpacked form (and the one for feature
vector conditions).

>>> import torch
>>> m = ConditionalGenerator(ConditionalConfig(vocab_size=12, num_conditions=3, hidden_size=8))
>>> logits, state = m(torch.tensor([[2, 2, 5, 7], [0, 2, 9, 0]]), lengths=torch.tensor([4, 3]))
>>> logits.shape
torch.Size([2, 3, 12])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.bridge import StateBridge, check_decoder_cell
from rnnkit.models.encoders import build_encoder


@dataclass(frozen=True)
class ConditionalConfig:
    """Sizes of a conditional generator."""

    vocab_size: int                # V: output symbols (padding, unknown, boundary included)
    num_conditions: int = 0        # K > 0: the condition is a label id; 0: a feature vector
    condition_size: int = 16       # C: label embedding width, or features of a vector condition
    cell: str = "lstm"             # a recurrent encoder name: lstm, gru, rnn, mingru, minlstm
    embed_size: int = 32           # E: token embedding width
    hidden_size: int = 128         # H: state size per layer
    num_layers: int = 1            # L: stacked layers
    dropout: float = 0.0           # on embeddings, between layers and before the head

    def __post_init__(self) -> None:
        check_decoder_cell(self.cell)
        for name in ("vocab_size", "condition_size", "embed_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.num_conditions, int) or self.num_conditions < 0:
            raise RnnkitError(f"num_conditions must be >= 0, got {self.num_conditions!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"dropout must be in [0, 1), got {self.dropout!r}")


class ConditionalGenerator(nn.Module):
    """Condition -> initial state and per-step input; tokens -> next-token logits."""

    def __init__(self, config: ConditionalConfig) -> None:
        super().__init__()
        c = self.config = config
        self.condition = nn.Embedding(c.num_conditions, c.condition_size) \
            if c.num_conditions else nn.Identity()
        self.embed = nn.Embedding(c.vocab_size, c.embed_size, padding_idx=0)
        self.bridge = StateBridge(c.cell, c.condition_size, c.hidden_size, c.num_layers)
        self.rnn = build_encoder(c.cell, c.embed_size + c.condition_size, c.hidden_size,
                                 c.num_layers, dropout=c.dropout)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)

    def encode_condition(self, condition: Tensor) -> Tensor:
        """Label ids (B,) or feature vectors (B, C) -> c (B, C)."""
        return self.condition(condition)

    def run(self, tokens: Tensor, condition: Tensor, state=None, *,
            lengths: Tensor | None = None) -> tuple[Tensor, object]:
        """tokens (B, T), condition (B,) ids or (B, C) -> (logits (B, T, V), state).

        ``state`` None starts from the condition's initial state; a given state continues
        (generation feeds one token at a time).
        """
        c = self.encode_condition(condition)                               # (B, C)
        if state is None:
            state = self.bridge(c)
        B, T = tokens.shape
        x = torch.cat([self.embed(tokens), c[:, None, :].expand(B, T, -1)], -1)  # (B, T, E+C)
        h, state = self.rnn(self.drop(x), state, lengths=lengths)          # (B, T, H)
        return self.head(self.drop(h)), state                              # (B, T, V)

    def forward(self, inputs: Tensor, state=None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, object]:
        """Packed inputs (B, 1 + T): condition id, then tokens -> (logits (B, T, V), state)."""
        if self.config.num_conditions == 0:
            raise RnnkitError("a feature-vector condition cannot be packed with token ids; "
                              "call run(tokens, features)")
        return self.run(inputs[:, 1:], inputs[:, 0], state,
                        lengths=None if lengths is None else lengths - 1)
