"""A pre-norm transformer encoder: self-attention with a causal mask, sinusoidal or learned
positions.

Vaswani et al. 2017, "Attention Is All You Need" (sec. 3.2 attention, 3.5 sinusoidal positions);
pre-norm blocks as in GPT-2 (Radford et al. 2019) and Xiong et al. 2020, "On Layer Normalization
in the Transformer Architecture"::

    h^0 = W_in x + p                    p: sinusoidal (fixed) or learned position vectors
    a   = h^{l-1} + Attn(LN(h^{l-1}))   softmax(q k^T / sqrt(d_head) + mask) v, per head
    h^l = a + FF(LN(a))                 FF(u) = W_2 GELU(W_1 u)
    y   = LN(h^L)

With ``causal=True`` (language models, causal taggers) position t attends to positions <= t;
``causal=False`` is the bidirectional form (every position sees the whole, unpadded sequence),
which ``build_encoder(..., bidirectional=True)`` selects. The encoder-decoder form for seq2seq
(a decoder with cross-attention, built from these blocks) is
:mod:`rnnkit.models.transformer_seq2seq`.

Two ways to run over a stream:

- ``forward(x, state)``: ``state`` is the window of recent inputs (:mod:`.window`), at most
  ``max_len - 1`` of them; a call of T inputs prepends the last ``max_len - T`` of it and
  recomputes over that window (O(max_len^2) per call). Training windows of T = max_len carry
  nothing; generating one token at a time sees the previous ``max_len - 1`` inputs.
- ``step(x_t, cache)``: one new position against a key/value cache of every earlier position
  (O(n) per token, memory growing with n) -- the KV cache of the ``streaming`` experiment.
  Running ``step`` over a sequence equals ``forward`` over it with ``state=None``.

>>> import torch
>>> t = TransformerEncoder(TransformerConfig(input_size=3, hidden_size=8, num_heads=2))
>>> y, state = t(torch.randn(2, 5, 3))
>>> y.shape, state.shape
(torch.Size([2, 5, 8]), torch.Size([2, 5, 3]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.baselines.common import check_dropout, check_input, check_sizes, zero_padded
from rnnkit.models.baselines.window import next_context, with_context

POSITIONAL = ("sinusoidal", "learned")
KVCache = tuple[tuple[Tensor, Tensor], ...]  # per layer (k, v), each (B, nh, n, hs)


@dataclass(frozen=True)
class TransformerConfig:
    """A stack of pre-norm self-attention blocks."""

    input_size: int               # I: features per timestep
    hidden_size: int              # d: model width (the output size)
    num_layers: int = 2           # L: blocks
    num_heads: int = 4            # nh: attention heads; must divide d
    ff_mult: int = 4              # feed-forward width = ff_mult * d
    max_len: int = 128            # context: learned-table size and the input window kept as state
    positional: str = "sinusoidal"  # "sinusoidal" (fixed, any length) or "learned" (<= max_len)
    causal: bool = True           # False: bidirectional attention (no generation then)
    dropout: float = 0.0          # on the attention and feed-forward branches, in training

    def __post_init__(self) -> None:
        check_sizes(self, ("input_size", "hidden_size", "num_layers", "num_heads", "ff_mult",
                           "max_len"))
        check_dropout(self.dropout)
        if self.hidden_size % self.num_heads:
            raise RnnkitError(f"hidden size {self.hidden_size} is not divisible by "
                              f"{self.num_heads} heads")
        if self.positional not in POSITIONAL:
            raise RnnkitError(f"unknown positional encoding {self.positional!r}; choose one of "
                              f"{', '.join(POSITIONAL)}")


def sinusoidal(positions: Tensor, d: int) -> Tensor:
    """PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(...): positions (n,) -> (n, d)."""
    i = torch.arange(0, d, 2, device=positions.device, dtype=torch.float32)      # (ceil(d/2),)
    angles = positions.float()[:, None] / 10000.0 ** (i / d)                    # (n, ceil(d/2))
    pe = torch.zeros(len(positions), d, device=positions.device)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d // 2])
    return pe


def position_vectors(table: nn.Embedding | None, start: int, n: int, d: int,
                     device: torch.device) -> Tensor:
    """Positions start .. start+n-1 -> (n, d): rows of a learned ``table``, or sinusoidal."""
    positions = torch.arange(start, start + n, device=device)
    if table is None:
        return sinusoidal(positions, d)
    if start + n > table.num_embeddings:
        raise RnnkitError(f"the transformer's learned positions stop at {table.num_embeddings};"
                          f" got a sequence of {start + n} (use a shorter window or sinusoidal "
                          "positions)")
    return table(positions)


def init_gpt2(model: nn.Module) -> None:
    """GPT-2 initialisation: N(0, 0.02) weights of every Linear and Embedding, zero biases."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)


class Block(nn.Module):
    """Pre-norm block: a = h + Attn(LN(h)); out = a + FF(LN(a)). Fused q, k, v projection."""

    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        d = c.hidden_size
        self.heads, self.dropout = c.num_heads, c.dropout
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, c.ff_mult * d), nn.GELU(), nn.Linear(c.ff_mult * d, d))

    def _split(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, n, d) -> q, k, v, each (B, nh, n, hs)."""
        B, n, d = u.shape
        q, k, v = self.qkv(u).chunk(3, dim=-1)                       # each (B, n, d)
        return tuple(t.view(B, n, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))

    def _residual(self, h: Tensor, att: Tensor, out: nn.Linear) -> Tensor:
        """h + W_out(heads merged): att (B, nh, n, hs) -> (B, n, d)."""
        B, nh, n, hs = att.shape
        att = att.transpose(1, 2).reshape(B, n, nh * hs)              # (B, n, d)
        return h + F.dropout(out(att), self.dropout, self.training)

    def _feed(self, a: Tensor) -> Tensor:
        """a + FF(LN(a)): (B, n, d) -> (B, n, d)."""
        return a + F.dropout(self.ff(self.ln2(a)), self.dropout, self.training)

    def _finish(self, h: Tensor, att: Tensor) -> Tensor:
        return self._feed(self._residual(h, att, self.out))

    def forward(self, h: Tensor, *, causal: bool, key_mask: Tensor | None) -> Tensor:
        """h (B, n, d) -> (B, n, d). key_mask (B, n): True where a key may be attended to."""
        q, k, v = self._split(self.ln1(h))
        mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, n)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self._finish(h, att)

    def step(self, h: Tensor, kv: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple]:
        """One new position h (B, 1, d) against cached keys/values -> (B, 1, d), longer cache."""
        q, k, v = self._split(self.ln1(h))
        if kv is not None:
            k, v = torch.cat([kv[0], k], dim=2), torch.cat([kv[1], v], dim=2)  # (B, nh, n+1, hs)
        att = F.scaled_dot_product_attention(q, k, v)                # sees every cached position
        return self._finish(h, att), (k, v)


class TransformerEncoder(nn.Module):
    """Input projection + positions, L pre-norm blocks, final LayerNorm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        d = config.hidden_size
        self.proj = nn.Linear(config.input_size, d)
        self.pos = nn.Embedding(config.max_len, d) if config.positional == "learned" else None
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.ln_f = nn.LayerNorm(d)
        init_gpt2(self)

    output_size = property(lambda self: self.config.hidden_size)
    receptive_field = property(lambda self: self.config.max_len)

    def _positions(self, start: int, n: int, device: torch.device) -> Tensor:
        """Position vectors of positions start .. start+n-1: (n, d)."""
        return position_vectors(self.pos, start, n, self.config.hidden_size, device)

    def forward_layers(self, x: Tensor, state: Tensor | None = None, *,
                       lengths: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        """x (B, T, I) -> ([block outputs (B, T, d); the last after the final LayerNorm],
        the last max_len - 1 inputs (B, <= max_len - 1, I))."""
        c = self.config
        check_input(x, c.input_size, lengths)
        B, T, _ = x.shape
        z = with_context(x, state, c.max_len - T, zeros=False)        # (B, P + T, I)
        P = z.shape[1] - T
        h = self.proj(z) + self._positions(0, P + T, x.device)        # (B, P + T, d)
        key_mask = None
        if lengths is not None and not c.causal:                      # padding is never a key
            key_mask = torch.arange(P + T, device=x.device)[None, :] < (P + lengths[:, None])
        layers = []
        for l, block in enumerate(self.blocks):
            h = block(h, causal=c.causal, key_mask=key_mask)
            out = h[:, P:] if l < c.num_layers - 1 else self.ln_f(h[:, P:])  # (B, T, d)
            out = zero_padded(out, lengths)
            layers.append(out)
            h = torch.cat([h[:, :P], out], dim=1) if l < c.num_layers - 1 else h
        return layers, next_context(z, c.max_len - 1)

    def forward(self, x: Tensor, state: Tensor | None = None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (B, T, I) -> (outputs (B, T, d), the last max_len - 1 inputs)."""
        layers, state = self.forward_layers(x, state, lengths=lengths)
        return layers[-1], state

    def step(self, x_t: Tensor, cache: KVCache | None = None) -> tuple[Tensor, KVCache]:
        """One new input x_t (B, I) at position n = cached length -> (y_t (B, d), cache)."""
        if not self.config.causal:
            raise RnnkitError("a bidirectional transformer cannot generate step by step")
        n = 0 if cache is None else cache[0][0].shape[2]
        h = self.proj(x_t)[:, None] + self._positions(n, 1, x_t.device)   # (B, 1, d)
        new_cache = []
        for l, block in enumerate(self.blocks):
            h, kv = block.step(h, None if cache is None else cache[l])
            new_cache.append(kv)
        return self.ln_f(h)[:, 0], tuple(new_cache)
