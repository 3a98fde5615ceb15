"""Sequence classifier, many-to-one: a whole sequence -> one label.

    tokens (B, T) -> embedding (B, T, E)  |  vectors (B, T, I)
      -> recurrent encoder, uni- or bidirectional, respecting lengths (B, T, D*H)
      -> pooling: last | mean | max | attention (B, D*H)
      -> dropout -> linear head (B, K)

The encoder is any name of :mod:`rnnkit.models.encoders`. The loss (cross-entropy, with class
weights for imbalanced data) belongs to the trainer. A bidirectional encoder reads each
sequence in both directions (Schuster & Paliwal 1997, "Bidirectional Recurrent Neural
Networks"); pooling is in :mod:`rnnkit.models.pooling`.

>>> import torch
>>> model = SequenceClassifier(ClassifierConfig(num_classes=3, vocab_size=50, input_size=8,
...                                             hidden_size=16))
>>> logits, _ = model(torch.randint(2, 50, (4, 9)), lengths=torch.tensor([9, 5, 2, 1]))
>>> logits.shape
torch.Size([4, 3])
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import build_encoder, check_cell, positional_options
from rnnkit.models.pooling import POOLINGS, Pooling
from rnnkit.models.pretrained import layer_groups


@dataclass(frozen=True)
class ClassifierConfig:
    """Sizes and choices of a sequence classifier."""

    num_classes: int               # K: labels
    vocab_size: int = 0            # V > 0: token ids are embedded; 0: numeric vectors come in
    input_size: int = 64           # E: embedding width (tokens) or features per step (vectors)
    cell: str = "lstm"             # an encoder name (models.encoders): lstm, gru, rnn, ...
    hidden_size: int = 128         # H: state size per direction and layer
    num_layers: int = 1            # L: stacked recurrent layers
    bidirectional: bool = True     # D = 2: a backward pass too, outputs concatenated
    dropout: float = 0.0           # on embeddings, between layers and before the head
    pooling: str = "last"          # one of POOLINGS: last, mean, max, attention
    positional: str = "sinusoidal" # transformer only: "sinusoidal" or "learned" positions

    def __post_init__(self) -> None:
        check_cell(self.cell, bidirectional=self.bidirectional)
        positional_options(self.cell, self.positional)
        for name in ("num_classes", "input_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
        if self.num_classes < 2:
            raise RnnkitError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if not isinstance(self.vocab_size, int) or self.vocab_size < 0:
            raise RnnkitError(f"vocab_size must be >= 0, got {self.vocab_size!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.pooling not in POOLINGS:
            raise RnnkitError(f"unknown pooling {self.pooling!r}; choose one of "
                              f"{', '.join(POOLINGS)}")


class SequenceClassifier(nn.Module):
    """(Embedding) -> recurrent encoder -> pooling -> linear head."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.input_size, padding_idx=0) \
            if c.vocab_size else None
        self.rnn = build_encoder(c.cell, c.input_size, c.hidden_size, c.num_layers,
                                 dropout=c.dropout, bidirectional=c.bidirectional,
                                 **positional_options(c.cell, c.positional))
        size = self.rnn.output_size
        self.pool = Pooling(c.pooling, size, 2 if c.bidirectional else 1)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(size, c.num_classes)

    def forward(self, inputs: Tensor, state=None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, object]:
        """inputs (B, T) ids or (B, T, I) vectors -> (logits (B, K), final encoder state)."""
        x = self.embed(inputs) if self.embed is not None else inputs       # (B, T, E)
        h, state = self.rnn(self.drop(x), state, lengths=lengths)          # (B, T, D*H)
        return self.head(self.drop(self.pool(h, lengths))), state          # (B, K)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters by depth: embedding, each recurrent layer, pooling and head."""
        return layer_groups([m for m in (self.embed,) if m is not None], self.rnn,
                            [self.pool, self.head])
