"""Sequence tagger, many-to-many aligned: one tag per token.

    inputs (B, T, 1 + W): column 0 word ids, columns 1..W character ids (see data.codec.TagCodec)
      word embedding (B, T, E)  ++  character encoder per token (B, T, D*H_c)
      -> dropout -> recurrent encoder over the sentence, bidirectional by default (B, T, D*H)
      -> dropout -> linear head (B, T, K)

The bidirectional layer lets the tag of token t depend on the whole sentence, left and right
(Graves & Schmidhuber 2005; for tagging Huang, Xu & Yu 2015, "Bidirectional LSTM-CRF Models
for Sequence Tagging", and Plank, Sogaard & Goldberg 2016, whose word + character bi-LSTM this
follows). During training a known word is replaced by the unknown id with probability
``word_dropout``, so the unknown embedding and the character encoder learn to stand in for
words the test data brings (Kiperwasser & Goldberg 2016, sec. 6: word dropout).

>>> import torch
>>> tagger = Tagger(TaggerConfig(num_tags=5, vocab_size=30, char_vocab_size=20,
...                              word_embed=8, char_embed=4, char_hidden=4, hidden_size=8))
>>> x = torch.cat([torch.randint(2, 30, (2, 6, 1)), torch.randint(1, 20, (2, 6, 5))], -1)
>>> tagger(x, lengths=torch.tensor([6, 3]))[0].shape
torch.Size([2, 6, 5])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.char_encoder import CharEncoder
from rnnkit.models.encoders import build_encoder, check_cell, positional_options
from rnnkit.nn.traced import is_exporting
from rnnkit.models.pretrained import layer_groups

UNK_ID = 1  # the Vocab's unknown id (rnnkit.data.vocab.UNK)


@dataclass(frozen=True)
class TaggerConfig:
    """Sizes and choices of a sequence tagger."""

    num_tags: int                # K: tags
    vocab_size: int              # V: word ids (0 pad, 1 unknown)
    char_vocab_size: int         # character ids (0 pad, 1 unknown)
    word_embed: int = 100        # E: word embedding width
    char_embed: int = 24         # character embedding width
    char_hidden: int = 32        # H_c: character encoder state per direction; 0: no characters
    cell: str = "lstm"           # an encoder name (models.encoders), sentence and characters
    hidden_size: int = 128       # H: sentence encoder state per direction and layer
    num_layers: int = 1          # L: stacked sentence layers
    bidirectional: bool = True   # D = 2: read the sentence both ways
    dropout: float = 0.25        # on the token features, between layers and before the head
    word_dropout: float = 0.05   # training only: a word id becomes unknown with this chance
    positional: str = "sinusoidal"  # transformer only: "sinusoidal" or "learned" positions

    def __post_init__(self) -> None:
        check_cell(self.cell, bidirectional=self.bidirectional)
        positional_options(self.cell, self.positional)
        for name in ("num_tags", "vocab_size", "char_vocab_size", "word_embed", "char_embed",
                     "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.char_hidden, int) or self.char_hidden < 0:
            raise RnnkitError(f"char_hidden must be >= 0, got {self.char_hidden!r}")
        for name in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise RnnkitError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")


class Tagger(nn.Module):
    """Word embedding + character encoder -> recurrent encoder -> per-token head."""

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        c = self.config = config
        self.embed = nn.Embedding(c.vocab_size, c.word_embed, padding_idx=0)
        self.chars = CharEncoder(c.cell, c.char_vocab_size, c.char_embed, c.char_hidden) \
            if c.char_hidden else None
        features = c.word_embed + (self.chars.output_size if self.chars else 0)
        self.rnn = build_encoder(c.cell, features, c.hidden_size, c.num_layers,
                                 dropout=c.dropout, bidirectional=c.bidirectional,
                                 **positional_options(c.cell, c.positional))
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(self.rnn.output_size, c.num_tags)

    def forward(self, inputs: Tensor, state=None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, object]:
        """inputs (B, T, 1 + W) -> (logits (B, T, K), final encoder state)."""
        word_ids = inputs[..., 0]                                           # (B, T)
        if self.training and self.config.word_dropout:
            drop = torch.rand(word_ids.shape, device=word_ids.device) < self.config.word_dropout
            word_ids = torch.where(drop & (word_ids > UNK_ID), UNK_ID, word_ids)
        x = self.embed(word_ids)                                            # (B, T, E)
        if self.chars is not None:
            x = torch.cat([x, self.char_features(inputs, x)], dim=-1)       # (B, T, E + D*H_c)
        h, state = self.rnn(self.drop(x), state, lengths=lengths)           # (B, T, D*H)
        return self.head(self.drop(h)), state                               # (B, T, K)

    def char_features(self, inputs: Tensor, like: Tensor) -> Tensor:
        """The character encoder's vector of each real word (non-zero id), zeros elsewhere:
        inputs (B, T, 1 + W) -> (B, T, D*H_c), in ``like``'s dtype. While ``torch.export``
        traces the model, every position's characters are encoded and the padding ones zeroed
        (the same numbers: selecting the real words needs their count, a value a traced graph
        does not know)."""
        real = inputs[..., 0] != 0                                          # (B, T)
        if is_exporting():
            B, T, width = inputs.shape
            chars = self.chars(inputs[..., 1:].reshape(B * T, width - 1))  # (B*T, D*H_c)
            return torch.where(real[..., None], chars.view(B, T, -1), 0.0)
        char_x = like.new_zeros(*real.shape, self.chars.output_size)       # (B, T, D*H_c)
        char_x[real] = self.chars(inputs[..., 1:][real])                    # (N real, D*H_c)
        return char_x

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters by depth: word embedding and character encoder, each sentence layer, head."""
        return layer_groups([m for m in (self.embed, self.chars) if m is not None], self.rnn,
                            [self.head])
