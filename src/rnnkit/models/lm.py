"""Language model, many-to-many aligned: predict token t+1 from tokens up to t.

    tokens (B, T) -> embedding (B, T, E) -> stacked recurrent layers (B, T, H) -> head (B, T, V)

Dropout sits on the embeddings and on the last layer's outputs (and between stacked layers,
inside the recurrent stack), never inside the recurrence (Zaremba, Sutskever & Vinyals 2014,
"Recurrent Neural Network Regularization"). With ``tie_weights`` the head reuses the embedding
matrix (Press & Wolf 2017, "Using the Output Embedding to Improve Language Models"; Inan et al.
2017), which needs ``embed_size == hidden_size``.

A language model must be causal: the prediction at t may only see tokens up to t. A
bidirectional layer reads the future, so it is refused here.

The AWD-LSTM regularisers (Merity, Keskar & Socher 2018, "Regularizing and Optimizing LSTM
Language Models", arXiv 1708.02182; the functions are in :mod:`rnnkit.nn.awd`) are options, all
off by default and all training-only: ``weight_drop`` (DropConnect on the recurrent matrices
W_hh, one mask per forward), ``embed_dropout`` (whole words of the embedding matrix),
``locked_dropout`` (``dropout``'s masks on the embeddings and before the head drawn once per
sequence and shared over time; the dropout between stacked layers stays per element), and
``ar``/``tar``, whose penalty the model leaves in :meth:`LanguageModel.take_penalty` for the
trainer to add to the loss::

    penalty = ar * mean(drop(h_t)^2) + tar * mean((h_t - h_{t+1})^2)      h: the last layer
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import (RECURRENT, STATELESS, build_encoder, check_cell,
                                    positional_options)
from rnnkit.nn.awd import activation_penalty, embedded_dropout, locked_dropout, weight_dropped


@dataclass(frozen=True)
class LMConfig:
    """Sizes of a recurrent language model."""

    vocab_size: int                  # V: tokens the tokenizer knows, unknown symbol included
    cell: str = "lstm"               # an encoder name (models.encoders): lstm, gru, rnn, ...
    embed_size: int = 256            # E: embedding width
    hidden_size: int = 256           # H: recurrent state size per layer
    num_layers: int = 2              # L: stacked recurrent layers
    dropout: float = 0.0             # on embeddings, between layers and before the head
    tie_weights: bool = False        # head weight = embedding weight (needs E == H)
    bidirectional: bool = False      # always refused: a language model must be causal
    positional: str = "sinusoidal"   # transformer only: "sinusoidal" or "learned" positions
    # AWD-LSTM regularisers (rnnkit.nn.awd), in training only; 0/False: off
    weight_drop: float = 0.0         # DropConnect rate on the W_hh matrices (lstm, gru, rnn)
    embed_dropout: float = 0.0       # rate of dropping whole words of the embedding matrix
    locked_dropout: bool = False     # `dropout` on embeddings and head input: one mask per
    #                                  sequence, shared over time (variational)
    ar: float = 0.0                  # alpha: activation regularisation of the dropped outputs
    tar: float = 0.0                 # beta: temporal activation regularisation (h_t - h_t+1)

    def __post_init__(self) -> None:
        check_cell(self.cell)
        positional_options(self.cell, self.positional)
        self._check_regularisers()
        for name in ("vocab_size", "embed_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.bidirectional:
            raise RnnkitError("a language model cannot be bidirectional: predicting the next "
                              "token must not see the tokens after it (the backward direction "
                              "would read the answer)")
        if self.tie_weights and self.embed_size != self.hidden_size:
            raise RnnkitError(f"tied weights need embed size == hidden size, got "
                              f"{self.embed_size} and {self.hidden_size}")

    def _check_regularisers(self) -> None:
        for name in ("weight_drop", "embed_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise RnnkitError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        for name in ("ar", "tar"):
            if not getattr(self, name) >= 0.0:
                raise RnnkitError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.weight_drop and self.cell not in RECURRENT:
            raise RnnkitError(f"weight drop applies to the recurrent matrices W_hh of lstm, gru "
                              f"and rnn; {self.cell} has none")
        for name in ("ar", "tar", "locked_dropout"):
            if getattr(self, name) and self.cell in STATELESS:
                raise RnnkitError(f"{name.replace('_', '-')} regularises a recurrent layer's "
                                  f"activations over time; {self.cell} is not recurrent")
        if self.locked_dropout and not self.dropout:
            raise RnnkitError("locked dropout shares dropout's masks over time; give a "
                              "dropout rate too")


# The regularisers' fields: in the saved metadata only when set (lm_meta_config).
REGULARISERS = ("weight_drop", "embed_dropout", "locked_dropout", "ar", "tar")


def lm_meta_config(config: LMConfig) -> dict:
    """``config`` as a dict for the weights' metadata, the regularisers left out where they are
    off: a run without them keeps the metadata of one saved before they existed, which its
    resume compares against."""
    values = dataclasses.asdict(config)
    return {k: v for k, v in values.items()
            if k not in REGULARISERS or v != LMConfig.__dataclass_fields__[k].default}


class LanguageModel(nn.Module):
    """Embedding -> stacked recurrent layers -> linear head over the vocabulary.

    >>> import torch
    >>> lm = LanguageModel(LMConfig(vocab_size=30, embed_size=16, hidden_size=16, num_layers=1))
    >>> logits, state = lm(torch.randint(0, 30, (2, 7)))
    >>> logits.shape
    torch.Size([2, 7, 30])
    """

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        self._penalty: Tensor | None = None             # AR/TAR of the last training forward
        self.embed = nn.Embedding(config.vocab_size, config.embed_size)
        self.rnn = build_encoder(config.cell, config.embed_size, config.hidden_size,
                                 config.num_layers, dropout=config.dropout,
                                 **positional_options(config.cell, config.positional))
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        if config.tie_weights:
            # The shared matrix is also the output layer, so it starts at an output layer's
            # scale: U(-0.1, 0.1) rows and a zero bias, as in Press & Wolf's and PyTorch's
            # word-language-model recipes. nn.Embedding's N(0, 1) rows would start the logits
            # at a spread of ~sqrt(H) nats and cost Adam hundreds of steps to shrink.
            nn.init.uniform_(self.embed.weight, -0.1, 0.1)
            nn.init.zeros_(self.head.bias)
            self.head.weight = self.embed.weight

    def forward(self, tokens: Tensor, state=None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, object]:
        """tokens (B, T) -> (logits (B, T, V), state in the recurrent layer's layout).
        ``lengths`` (B,): a right-padded batch; the state is each row's at its last real token
        and the logits past it are the head's bias (the layer's outputs there are zero)."""
        c, train = self.config, self.training
        options = {} if lengths is None else {"lengths": lengths}
        if train and c.embed_dropout:
            x = F.embedding(tokens, embedded_dropout(self.embed.weight, c.embed_dropout))
        else:
            x = self.embed(tokens)                       # (B, T, E)
        x = self._dropout(x)
        if train and c.weight_drop:                      # the layer on dropped W_hh matrices
            h, state = functional_call(self.rnn, weight_dropped(self.rnn, c.weight_drop),
                                       (x, state), options)
        else:
            h, state = self.rnn(x, state, **options)     # (B, T, H)
        dropped = self._dropout(h)
        if train and (c.ar or c.tar):                    # (set only then: exports trace eval)
            self._penalty = activation_penalty(dropped, h, c.ar, c.tar)
        return self.head(dropped), state                 # (B, T, V)

    def _dropout(self, x: Tensor) -> Tensor:
        if self.config.locked_dropout and self.training:
            return locked_dropout(x, self.config.dropout)
        return self.drop(x)

    def take_penalty(self) -> Tensor | None:
        """The AR/TAR penalty of the last training forward (a scalar to add to its loss), once:
        None after it is taken, in evaluation, and when ``ar`` and ``tar`` are 0."""
        penalty, self._penalty = self._penalty, None
        return penalty
