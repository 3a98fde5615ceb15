"""Encoder-decoder with attention, many-to-many unaligned: a source sequence -> a target one.

    source x_1..x_S -> embedding -> bidirectional encoder -> memory h_1..h_S (B, S, 2H)
    s_0 = tanh(W_s mean_j h_j)                          (bridge, Bahdanau et al. 2015 A.2.2)
    additive (Bahdanau et al. 2015):   c_t = attn(s_{t-1}, h);  s_t = cell([E y_{t-1}; c_t], s_{t-1})
    multiplicative (Luong et al. 2015): s_t = cell(E y_{t-1}, s_{t-1});  c_t = attn(s_t, h)
    o_t = tanh(W_c [s_t; c_t]);   p(y_t | y_<t, x) = softmax(W_o o_t)

Any encoder of :mod:`rnnkit.models.encoders` that has a bidirectional form reads the source;
any recurrent one decodes (it needs a state to start from, :mod:`rnnkit.models.bridge`). The
decoder runs one step at a time through the encoder module's own ``forward`` with T = 1 and
the carried state.

Training is teacher forcing: the decoder reads the true previous symbol. With the
multiplicative score and no scheduled sampling nothing in step t's input depends on step t-1's
attention, so the whole target runs through the decoder in one call (its fused path) and the
attention for all steps is one batched product; :meth:`Seq2Seq.decode_loop` is the step-by-step
reference that the tests tie it to. Scheduled sampling (Bengio et al. 2015, "Scheduled
Sampling for Sequence Prediction with Recurrent Neural Networks") feeds, with probability
``sample_prob`` per sequence and step, a symbol drawn from the model's own previous output
instead; the job sets ``sample_prob`` from its schedule before each step.

Batches for the model-agnostic trainer are packed: ``inputs (B, L, 2)`` holds the source ids
in channel 0 and the decoder input (``<s> y_1 .. y_n``) in channel 1, both right-padded with
0, so the lengths are the counts of non-zero ids.

>>> import torch
>>> m = Seq2Seq(Seq2SeqConfig(source_vocab=10, target_vocab=12, hidden_size=8, decoder_size=8))
>>> packed = torch.tensor([[[4, 5, 6], [2, 7, 8]], [[4, 9, 0], [2, 3, 0]]]).transpose(1, 2)
>>> logits, state = m(packed)
>>> logits.shape
torch.Size([2, 3, 12])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.data.symbols import BOUNDARY_ID
from rnnkit.errors import RnnkitError
from rnnkit.models.attention import KINDS, Attention
from rnnkit.models.bridge import StateBridge, check_decoder_cell, top_hidden
from rnnkit.models.encoders import build_encoder, check_cell, positional_options
from rnnkit.nn.traced import is_exporting

CAUSAL_ONLY = ("mlp", "cnn")   # encoders without a bidirectional form: read left to right


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Sizes and choices of an attention encoder-decoder."""

    source_vocab: int                 # source symbols (padding, unknown, boundary included)
    target_vocab: int                 # target symbols (same reserved ids)
    cell: str = "lstm"                # encoder: any encoder name (bidirectional where it can be)
    decoder_cell: str = "lstm"        # decoder: lstm, gru, rnn, mingru or minlstm
    embed_size: int = 64              # E: source and target embedding width
    hidden_size: int = 128            # H: encoder state per direction (memory width 2H)
    decoder_size: int = 256           # H_d: decoder state size
    encoder_layers: int = 1           # stacked bidirectional encoder layers
    decoder_layers: int = 1           # stacked decoder layers
    attention: str = "multiplicative" # "additive" (Bahdanau) or "multiplicative" (Luong)
    attention_size: int = 128         # A: width of the additive score's hidden layer
    dropout: float = 0.0              # on embeddings, between layers and before the head
    positional: str = "sinusoidal"    # transformer encoder only: "sinusoidal" or "learned"

    @property
    def bidirectional_encoder(self) -> bool:
        """The encoder reads both ways, except the window MLP and the causal CNN, which have no
        backward form and encode the source left to right (attention still sees all of it)."""
        return self.cell not in CAUSAL_ONLY

    def __post_init__(self) -> None:
        check_cell(self.cell, bidirectional=self.bidirectional_encoder)
        positional_options(self.cell, self.positional)
        check_decoder_cell(self.decoder_cell)
        for name in ("source_vocab", "target_vocab", "embed_size", "hidden_size",
                     "decoder_size", "encoder_layers", "decoder_layers", "attention_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
        if self.attention not in KINDS:
            raise RnnkitError(f"unknown attention {self.attention!r}; choose one of "
                              f"{', '.join(KINDS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"dropout must be in [0, 1), got {self.dropout!r}")


def trim_source(source: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Right-padded ids (B, S') -> (ids cut to the longest row (B, S), lengths (B,), mask (B, S)
    True at real positions); one-line error for an empty row."""
    lengths = (source != 0).sum(-1)                                         # (B,)
    if is_exporting():              # the check and the cut need values: a traced graph keeps S
        return source, lengths, source != 0
    if int(lengths.min()) < 1:
        raise RnnkitError("a source sequence is empty")
    source = source[:, : int(lengths.max())]
    return source, lengths, source != 0


@dataclass
class Encoded:
    """A source, encoded once and read by every decoder step."""

    memory: Tensor    # (B, S, M) encoder outputs
    keys: Tensor      # (B, S, A or H_d) the attention's projection of the memory
    mask: Tensor      # (B, S) True at real source positions
    state: object     # the decoder's initial state (bridge of the mean memory)

    def repeat(self, k: int) -> "Encoded":
        """Each source k times in a row (for k beams): (B, ...) -> (B * k, ...)."""
        rep = lambda t: t.repeat_interleave(k, dim=0)                     # noqa: E731
        state = tuple(s.repeat_interleave(k, 1) for s in self.state) \
            if isinstance(self.state, tuple) else self.state.repeat_interleave(k, 1)
        return Encoded(rep(self.memory), rep(self.keys), rep(self.mask), state)


class Seq2Seq(nn.Module):
    """Bidirectional encoder, attention, recurrent decoder."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        c = self.config = config
        self.src_embed = nn.Embedding(c.source_vocab, c.embed_size, padding_idx=0)
        self.tgt_embed = nn.Embedding(c.target_vocab, c.embed_size, padding_idx=0)
        self.encoder = build_encoder(c.cell, c.embed_size, c.hidden_size, c.encoder_layers,
                                     dropout=c.dropout, bidirectional=c.bidirectional_encoder,
                                     **positional_options(c.cell, c.positional))
        M = self.encoder.output_size
        self.bridge = StateBridge(c.decoder_cell, M, c.decoder_size, c.decoder_layers)
        extra = M if c.attention == "additive" else 0          # Bahdanau feeds c_t in
        self.decoder = build_encoder(c.decoder_cell, c.embed_size + extra, c.decoder_size,
                                     c.decoder_layers, dropout=c.dropout)
        self.attend = Attention(c.attention, c.decoder_size, M, c.attention_size)
        self.combine = nn.Linear(c.decoder_size + M, c.decoder_size)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.decoder_size, c.target_vocab)
        self.sample_prob = 0.0   # scheduled sampling: chance of feeding the model's own symbol

    # -- encoder ---------------------------------------------------------------------------------
    def encode(self, source: Tensor) -> Encoded:
        """source (B, S) ids, right-padded with 0, every row non-empty -> Encoded."""
        source, lengths, mask = trim_source(source)
        memory, _ = self.encoder(self.drop(self.src_embed(source)), None, lengths=lengths)
        memory = memory * mask[..., None]                                    # (B, S, M)
        mean = memory.sum(1) / lengths[:, None].to(memory.dtype)             # (B, M)
        return Encoded(memory, self.attend.keys(memory), mask, self.bridge(mean))

    # -- decoder ---------------------------------------------------------------------------------
    def _output(self, s: Tensor, context: Tensor) -> Tensor:
        """s (B, T, H_d), context (B, T, M) -> logits (B, T, V)."""
        o = torch.tanh(self.combine(torch.cat([s, context], -1)))           # (B, T, H_d)
        return self.head(self.drop(o))

    def step(self, y_prev: Tensor, state, enc: Encoded) -> tuple[Tensor, object, Tensor]:
        """One decoder step: y_prev (B,) -> (logits (B, V), state, attention weights (B, S))."""
        e = self.drop(self.tgt_embed(y_prev))[:, None]                       # (B, 1, E)
        if self.config.attention == "additive":
            q = top_hidden(state)[:, None]                                    # (B, 1, H_d)
            context, weights = self.attend(q, enc.keys, enc.memory, enc.mask)
            s, state = self.decoder(torch.cat([e, context], -1), state)     # (B, 1, H_d)
        else:
            s, state = self.decoder(e, state)                                 # (B, 1, H_d)
            context, weights = self.attend(s, enc.keys, enc.memory, enc.mask)
        return self._output(s, context)[:, 0], state, weights[:, 0]

    def decode_loop(self, target_in: Tensor, enc: Encoded, *,
                    generator: torch.Generator | None = None) -> tuple[Tensor, object]:
        """Teacher forcing one step at a time (the reference; scheduled sampling lives here).

        target_in (B, T) -> logits (B, T, V)."""
        state, outputs = enc.state, []
        y = target_in[:, 0]
        for t in range(target_in.shape[1]):
            if t and self.training and self.sample_prob > 0:
                drawn = torch.multinomial(outputs[-1].detach().softmax(-1), 1,
                                          generator=generator)[:, 0]          # (B,)
                use = torch.rand(y.shape, generator=generator) < self.sample_prob
                y = torch.where(use & (target_in[:, t] != 0), drawn, target_in[:, t])
            elif t:
                y = target_in[:, t]
            logits, state, _ = self.step(y, state, enc)
            outputs.append(logits)
        return torch.stack(outputs, 1), state                                 # (B, T, V)

    def decode_parallel(self, target_in: Tensor, enc: Encoded) -> tuple[Tensor, object]:
        """Multiplicative attention, teacher forcing, all steps at once: (B, T) -> (B, T, V)."""
        if self.config.attention != "multiplicative":
            raise RnnkitError("only the multiplicative score can run all steps at once")
        lengths = (target_in != 0).sum(-1).clamp(min=1)                     # (B,)
        e = self.drop(self.tgt_embed(target_in))                             # (B, T, E)
        s, state = self.decoder(e, enc.state, lengths=lengths)              # (B, T, H_d)
        context, _ = self.attend(s, enc.keys, enc.memory, enc.mask)          # (B, T, M)
        return self._output(s, context), state

    def forward(self, inputs: Tensor, state=None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, object]:
        """Packed inputs (B, L, 2) -> (logits (B, T, V), final decoder state); T is the longest
        decoder input. ``state`` and ``lengths`` are unused (each pair starts afresh; lengths
        are read from the padding)."""
        source, target_in = inputs[..., 0], inputs[..., 1]                   # (B, L) each
        T = int((target_in != 0).sum(-1).max())
        enc = self.encode(source)
        if self.config.attention == "multiplicative" and not \
                (self.training and self.sample_prob > 0):
            return self.decode_parallel(target_in[:, :T], enc)
        return self.decode_loop(target_in[:, :T], enc)


def start_symbols(batch: int) -> Tensor:
    """The first decoder input of ``batch`` rows: the boundary symbol."""
    return torch.full((batch,), BOUNDARY_ID, dtype=torch.long)
