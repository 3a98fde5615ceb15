"""Attention of a decoder over an encoded source: additive or multiplicative scores.

For a query q (the decoder's state) and the source memory h_1..h_S (B, S, M):

    additive        e_j = v^T tanh(W_q q + W_k h_j + b)      (Bahdanau, Cho & Bengio 2015,
                                                              "Neural Machine Translation by
                                                              Jointly Learning to Align and
                                                              Translate", eq. 6 and app. A.1.2)
    multiplicative  e_j = q^T W h_j                          (Luong, Pham & Manning 2015,
                                                              "Effective Approaches to
                                                              Attention-based NMT", sec. 3.1,
                                                              the "general" score)
    a = softmax_j(e) over real source positions;   context c = sum_j a_j h_j

``keys`` projects the memory once per source (W_k h or W h), so each decoder step costs one
(B, S) score. Queries come as (B, T, Q): T = 1 for a step, T = all target steps for the
multiplicative fast path of teacher forcing.

>>> import torch
>>> att = Attention("additive", 8, 6, 5)
>>> memory, mask = torch.randn(2, 4, 6), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]).bool()
>>> c, a = att(torch.randn(2, 1, 8), att.keys(memory), memory, mask)
>>> c.shape, a.shape, float(a.detach()[0, 0, 3])
(torch.Size([2, 1, 6]), torch.Size([2, 1, 4]), 0.0)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError

KINDS = ("additive", "multiplicative")


class Attention(nn.Module):
    """Scores, masked softmax and context vector."""

    def __init__(self, kind: str, query_size: int, memory_size: int,
                 attention_size: int = 128) -> None:
        super().__init__()
        if kind not in KINDS:
            raise RnnkitError(f"unknown attention {kind!r}; choose one of {', '.join(KINDS)}")
        self.kind = kind
        if kind == "additive":
            self.w_q = nn.Linear(query_size, attention_size, bias=False)
            self.w_k = nn.Linear(memory_size, attention_size)
            self.v = nn.Linear(attention_size, 1, bias=False)
        else:
            self.w = nn.Linear(memory_size, query_size, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """memory (B, S, M) -> W_k h (B, S, A) or W h (B, S, Q), computed once per source."""
        return self.w_k(memory) if self.kind == "additive" else self.w(memory)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor,
                mask: Tensor) -> tuple[Tensor, Tensor]:
        """query (B, T, Q), keys, memory (B, S, M), mask (B, S) True at real positions
        -> (context (B, T, M), weights (B, T, S))."""
        if self.kind == "additive":
            q = self.w_q(query)                                               # (B, T, A)
            e = self.v(torch.tanh(q[:, :, None] + keys[:, None])).squeeze(-1)  # (B, T, S)
        else:
            e = query @ keys.transpose(1, 2)                                  # (B, T, S)
        e = e.masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(e, dim=-1)                                    # (B, T, S)
        return weights @ memory, weights                                      # (B, T, M)
