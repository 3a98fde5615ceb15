"""Language model, many-to-many aligned: predict token t+1 from tokens up to t.

    tokens (B, T) -> embedding (B, T, E) -> stacked recurrent layers (B, T, H) -> head (B, T, V)

Dropout sits on the embeddings and on the last layer's outputs (and between stacked layers,
inside the recurrent stack), never inside the recurrence (Zaremba, Sutskever & Vinyals 2014,
"Recurrent Neural Network Regularization"). With ``tie_weights`` the head reuses the embedding
matrix (Press & Wolf 2017, "Using the Output Embedding to Improve Language Models"; Inan et al.
2017), which needs ``embed_size == hidden_size``.

A language model must be causal: the prediction at t may only see tokens up to t. A
bidirectional layer reads the future, so it is refused here.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import build_encoder, check_cell, positional_options


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

    def __post_init__(self) -> None:
        check_cell(self.cell)
        positional_options(self.cell, self.positional)
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
        x = self.drop(self.embed(tokens))                # (B, T, E)
        h, state = self.rnn(x, state, **({} if lengths is None else {"lengths": lengths}))
        return self.head(self.drop(h)), state            # (B, T, V)
