"""Transformer encoder-decoder for seq2seq: the ``--cell transformer`` form of the seq2seq task.

Vaswani et al. 2017, "Attention Is All You Need" (sec. 3.1 encoder and decoder stacks, 3.2.3
the three uses of attention), with pre-norm blocks (Xiong et al. 2020). The encoder is the
bidirectional :class:`~rnnkit.models.baselines.transformer.TransformerEncoder`; each decoder
block adds cross-attention over its memory between the causal self-attention and the
feed-forward part of the same :class:`~rnnkit.models.baselines.transformer.Block`::

    m   = Encoder(E_s x)                                  memory (B, S, d), padding never a key
    h^0 = W_in E_t y_<t + p                               p: sinusoidal or learned positions
    a   = h^{l-1} + SelfAttn(LN(h^{l-1}))                 causal: position t sees <= t
    b   = a + CrossAttn(LN(a), m)                         softmax(q k^T / sqrt(d_head)) v,
                                                          k = W_k m, v = W_v m, per head
    h^l = b + FF(LN(b))
    p(y_t | y_<t, x) = softmax(W_o LN(h^L_t))

It has the interface :mod:`rnnkit.models.seq2seq_search` and the seq2seq job read from
:class:`~rnnkit.models.seq2seq.Seq2Seq`: ``encode(source) -> Encoded`` (``keys`` holds each
decoder layer's cross-attention keys and values of the memory, computed once per source),
``step(y_prev, state, enc) -> (logits, state, weights)`` and the packed ``forward``. The
decoder state is the self-attention key/value cache, one tensor with the batch on dim 1 (so
beam search reorders it like a recurrent state); ``step`` adds one position to it, O(n) per
token. The attention weights a step returns are the last layer's cross-attention averaged over
heads. Teacher forcing runs the whole target in one call; running ``step`` over the same
tokens gives the same logits (the tests tie them).

>>> import torch
>>> m = TransformerSeq2Seq(TransformerSeq2SeqConfig(10, 12, embed_size=8, hidden_size=8,
...                                                 num_heads=2))
>>> packed = torch.tensor([[[4, 5, 6], [2, 7, 8]], [[4, 9, 0], [2, 3, 0]]]).transpose(1, 2)
>>> logits, cache = m(packed)
>>> logits.shape, cache.shape     # cache (L, B, k|v, nh, T, hs)
(torch.Size([2, 3, 12]), torch.Size([2, 2, 2, 2, 3, 4]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.typed import config_from
from rnnkit.models.baselines.transformer import (Block, TransformerConfig, init_gpt2,
                                                 position_vectors)
from rnnkit.models.encoders import build_encoder
from rnnkit.models.seq2seq import Encoded, Seq2Seq, Seq2SeqConfig, trim_source


@dataclass(frozen=True)
class TransformerSeq2SeqConfig:
    """Sizes of a transformer encoder-decoder."""

    source_vocab: int                 # source symbols (padding, unknown, boundary included)
    target_vocab: int                 # target symbols (same reserved ids)
    cell: str = "transformer"         # encoder; only "transformer" (names the run's topology)
    decoder_cell: str = "transformer" # decoder; only "transformer" (selects this model)
    embed_size: int = 64              # E: source and target embedding width, projected to d
    hidden_size: int = 128            # d: model width of encoder and decoder
    encoder_layers: int = 2           # encoder blocks
    decoder_layers: int = 2           # decoder blocks (self-attention, cross-attention, FF)
    num_heads: int = 4                # nh: attention heads; must divide d
    ff_mult: int = 4                  # feed-forward width = ff_mult * d
    max_len: int = 256                # longest source or output with learned positions
    positional: str = "sinusoidal"    # "sinusoidal" or "learned"
    dropout: float = 0.0              # on embeddings, attention/FF branches, before the head

    def __post_init__(self) -> None:
        if self.cell != "transformer" or self.decoder_cell != "transformer":
            raise RnnkitError("a transformer decoder reads a transformer encoder's memory: use "
                              f"--cell transformer for both (got {self.cell}/{self.decoder_cell})")
        for name in ("source_vocab", "target_vocab", "embed_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
        self.blocks(self.encoder_layers)
        self.blocks(self.decoder_layers)        # the block config checks sizes and positions

    def blocks(self, num_layers: int) -> TransformerConfig:
        """The configuration of a stack of ``num_layers`` blocks of this model."""
        return TransformerConfig(input_size=self.embed_size, hidden_size=self.hidden_size,
                                 num_layers=num_layers, num_heads=self.num_heads,
                                 ff_mult=self.ff_mult, max_len=self.max_len,
                                 positional=self.positional, causal=True, dropout=self.dropout)


class DecoderBlock(Block):
    """A pre-norm self-attention block with cross-attention before its feed-forward part."""

    def __init__(self, c: TransformerConfig) -> None:
        super().__init__(c)
        d = c.hidden_size
        self.ln_x = nn.LayerNorm(d)
        self.q_x = nn.Linear(d, d)
        self.kv_x = nn.Linear(d, 2 * d)            # applied to the memory once per source
        self.out_x = nn.Linear(d, d)

    def _heads(self, u: Tensor) -> Tensor:
        B, n, d = u.shape
        return u.view(B, n, self.heads, d // self.heads).transpose(1, 2)  # (B, nh, n, hs)

    def _cross(self, a: Tensor, memory_kv: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """a (B, n, d), memory_kv (B, S, 2d), mask (B, S) -> (b (B, n, d), weights
        (B, nh, n, S)). Written out (not fused) because the weights are returned."""
        q = self._heads(self.q_x(self.ln_x(a)))                          # (B, nh, n, hs)
        k, v = (self._heads(t) for t in memory_kv.chunk(2, dim=-1))     # (B, nh, S, hs)
        e = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])             # (B, nh, n, S)
        weights = e.masked_fill(~mask[:, None, None, :], float("-inf")).softmax(-1)
        return self._residual(a, weights @ v, self.out_x), weights

    def forward(self, h: Tensor, memory_kv: Tensor,
                mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Whole target h (B, n, d) -> (out (B, n, d), its cache (B, 2, nh, n, hs),
        cross-attention weights (B, nh, n, S))."""
        q, k, v = self._split(self.ln1(h))
        a = self._residual(h, F.scaled_dot_product_attention(q, k, v, is_causal=True), self.out)
        b, weights = self._cross(a, memory_kv, mask)
        return self._feed(b), torch.stack([k, v], 1), weights

    def step(self, h: Tensor, cache: Tensor, memory_kv: Tensor,
             mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One new position h (B, 1, d) after ``cache`` (B, 2, nh, n, hs) -> (out (B, 1, d),
        cache (B, 2, nh, n + 1, hs), weights (B, nh, 1, S))."""
        q, k, v = self._split(self.ln1(h))
        k = torch.cat([cache[:, 0], k], dim=2)                           # (B, nh, n + 1, hs)
        v = torch.cat([cache[:, 1], v], dim=2)
        a = self._residual(h, F.scaled_dot_product_attention(q, k, v), self.out)
        b, weights = self._cross(a, memory_kv, mask)
        return self._feed(b), torch.stack([k, v], 1), weights


class TransformerSeq2Seq(nn.Module):
    """Bidirectional transformer encoder, causal transformer decoder with cross-attention."""

    def __init__(self, config: TransformerSeq2SeqConfig) -> None:
        super().__init__()
        c = self.config = config
        d = c.hidden_size
        self.src_embed = nn.Embedding(c.source_vocab, c.embed_size, padding_idx=0)
        self.tgt_embed = nn.Embedding(c.target_vocab, c.embed_size, padding_idx=0)
        self.encoder = build_encoder("transformer", c.embed_size, d, c.encoder_layers,
                                     dropout=c.dropout, bidirectional=True,
                                     num_heads=c.num_heads, ff_mult=c.ff_mult,
                                     max_len=c.max_len, positional=c.positional)
        blocks = c.blocks(c.decoder_layers)
        self.tgt_proj = nn.Linear(c.embed_size, d)
        self.tgt_pos = nn.Embedding(c.max_len, d) if c.positional == "learned" else None
        self.blocks = nn.ModuleList(DecoderBlock(blocks) for _ in range(c.decoder_layers))
        self.ln_f = nn.LayerNorm(d)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(d, c.target_vocab)
        for part in (self.tgt_proj, self.tgt_pos, self.blocks, self.head):
            if part is not None:
                init_gpt2(part)

    # -- encoder ---------------------------------------------------------------------------------
    def encode(self, source: Tensor) -> Encoded:
        """source (B, S) ids, right-padded with 0, every row non-empty -> Encoded: memory
        (B, S, d), keys (B, S, L_dec, 2d) each decoder layer's cross-attention keys|values,
        mask (B, S), state the empty self-attention cache (L_dec, B, 2, nh, 0, hs)."""
        source, lengths, mask = trim_source(source)
        memory, _ = self.encoder(self.drop(self.src_embed(source)), None, lengths=lengths)
        keys = torch.stack([block.kv_x(memory) for block in self.blocks], 2)  # (B, S, L, 2d)
        c = self.config
        state = memory.new_zeros(c.decoder_layers, len(source), 2, c.num_heads, 0,
                                 c.hidden_size // c.num_heads)              # (L, B, 2, nh, 0, hs)
        return Encoded(memory, keys, mask, state)

    # -- decoder ---------------------------------------------------------------------------------
    def _embed(self, y: Tensor, start: int) -> Tensor:
        """y (B, n) target ids at positions start.. -> (B, n, d)."""
        c = self.config
        h = self.tgt_proj(self.drop(self.tgt_embed(y)))                     # (B, n, d)
        return h + position_vectors(self.tgt_pos, start, y.shape[1], c.hidden_size, y.device)

    def _logits(self, h: Tensor) -> Tensor:
        return self.head(self.drop(self.ln_f(h)))                           # (B, n, V)

    def step(self, y_prev: Tensor, state: Tensor, enc: Encoded) -> tuple[Tensor, Tensor, Tensor]:
        """One decoder step: y_prev (B,) -> (logits (B, V), cache one position longer,
        last layer's cross-attention averaged over heads (B, S))."""
        h = self._embed(y_prev[:, None], state.shape[4])                     # (B, 1, d)
        caches = []
        for l, block in enumerate(self.blocks):
            h, cache, weights = block.step(h, state[l], enc.keys[:, :, l], enc.mask)
            caches.append(cache)
        return self._logits(h)[:, 0], torch.stack(caches), weights.mean(1)[:, 0]

    def decode_parallel(self, target_in: Tensor, enc: Encoded) -> tuple[Tensor, Tensor]:
        """Teacher forcing, all steps at once: (B, T) -> (logits (B, T, V), cache
        (L, B, 2, nh, T, hs); a row's positions past its length hold the padding's keys)."""
        h = self._embed(target_in, 0)                                        # (B, T, d)
        caches = []
        for l, block in enumerate(self.blocks):
            h, cache, _ = block(h, enc.keys[:, :, l], enc.mask)
            caches.append(cache)
        return self._logits(h), torch.stack(caches)

    def decode_loop(self, target_in: Tensor, enc: Encoded) -> tuple[Tensor, Tensor]:
        """The step-by-step reference of :meth:`decode_parallel`: (B, T) -> (B, T, V), cache."""
        state, outputs = enc.state, []
        for t in range(target_in.shape[1]):
            logits, state, _ = self.step(target_in[:, t], state, enc)
            outputs.append(logits)
        return torch.stack(outputs, 1), state

    def forward(self, inputs: Tensor, state=None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Packed inputs (B, L, 2) -> (logits (B, T, V), the decoder's cache); T is the longest
        decoder input. ``state`` and ``lengths`` are unused, as in :class:`Seq2Seq`."""
        source, target_in = inputs[..., 0], inputs[..., 1]                   # (B, L) each
        T = int((target_in != 0).sum(-1).max())
        return self.decode_parallel(target_in[:, :T], self.encode(source))


def build_seq2seq(fields: dict) -> Seq2Seq | TransformerSeq2Seq:
    """The seq2seq model a config dict describes (a job's settings or a checkpoint's metadata):
    ``decoder_cell="transformer"`` is the transformer encoder-decoder, anything else the
    recurrent :class:`Seq2Seq` (whose encoder may still be a transformer)."""
    if fields.get("decoder_cell") == "transformer":
        return TransformerSeq2Seq(config_from(TransformerSeq2SeqConfig, fields, "the model config"))
    return Seq2Seq(config_from(Seq2SeqConfig, fields, "the model config"))


__all__ = ["DecoderBlock", "TransformerSeq2Seq", "TransformerSeq2SeqConfig", "build_seq2seq"]
