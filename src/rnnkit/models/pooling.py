"""Pooling: a padded sequence of encoder outputs (B, T, D*H) -> one vector per sequence (B, D*H).

* ``"last"``: the state that has read the whole sequence -- the forward direction at each
  sequence's last real step ``lengths - 1`` and, for a bidirectional encoder, the backward
  direction at step 0 (where it ends);
* ``"mean"``: the average over the real steps;
* ``"max"``: the element-wise maximum over the real steps (Collobert et al. 2011; Conneau et
  al. 2017, "Supervised Learning of Universal Sentence Representations", sec. 3.2.2);
* ``"attention"``: a learned weighted average, ``a = softmax_t(v . tanh(W o_t + b))``,
  ``pooled = sum_t a_t o_t``, with padded steps masked out (Yang et al. 2016, "Hierarchical
  Attention Networks for Document Classification", eq. 5-7).

>>> import torch
>>> pool = Pooling("mean", size=4, directions=1)
>>> pool(torch.ones(2, 3, 4), torch.tensor([3, 1])).shape
torch.Size([2, 4])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError

POOLINGS = ("last", "mean", "max", "attention")


def step_mask(lengths: Tensor, T: int) -> Tensor:
    """(B, T) True at real steps."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


class Pooling(nn.Module):
    """One of ``POOLINGS`` over encoder outputs of width ``size`` from ``directions`` (1 or 2)."""

    def __init__(self, mode: str, size: int, directions: int) -> None:
        super().__init__()
        if mode not in POOLINGS:
            raise RnnkitError(f"unknown pooling {mode!r}; choose one of {', '.join(POOLINGS)}")
        self.mode, self.directions = mode, directions
        if mode == "attention":
            self.score = nn.Sequential(nn.Linear(size, size), nn.Tanh(),
                                       nn.Linear(size, 1, bias=False))

    def forward(self, outputs: Tensor, lengths: Tensor | None) -> Tensor:
        B, T, _ = outputs.shape
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=outputs.device)
        lengths = lengths.to(outputs.device)
        mask = step_mask(lengths, T)                                        # (B, T)
        if self.mode == "last":
            rows = torch.arange(B, device=outputs.device)
            forward = outputs[rows, lengths - 1]                            # (B, D*H)
            if self.directions == 1:
                return forward
            H = outputs.shape[-1] // 2
            return torch.cat([forward[:, :H], outputs[:, 0, H:]], dim=-1)  # (B, 2H)
        if self.mode == "mean":
            summed = (outputs * mask[..., None]).sum(1)                     # (B, D*H)
            return summed / lengths[:, None].to(outputs.dtype)
        if self.mode == "max":
            return outputs.masked_fill(~mask[..., None], float("-inf")).amax(1)
        scores = self.score(outputs).squeeze(-1)                            # (B, T)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.einsum("bt,btc->bc", weights, outputs)                 # (B, D*H)
