"""Choosing the next token from logits: temperature, top-k and nucleus (top-p) sampling.

Temperature divides the logits (0 means greedy: always the most likely token). Top-k keeps the k
most likely tokens (Fan et al. 2018, "Hierarchical Neural Story Generation"); top-p keeps the
smallest set whose probability reaches p (Holtzman et al. 2020, "The Curious Case of Neural Text
Degeneration"). Both renormalise what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError


# Below these, logits / temperature overflow float32 and nucleus masses underflow: a
# temperature that small is greedy decoding (0), a top-p that small keeps one token anyway.
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-3, 1e3
MIN_TOP_P = 1e-6


@dataclass(frozen=True)
class SamplingConfig:
    """How the next token is drawn."""

    temperature: float = 1.0         # 0 = greedy; < 1 sharper, > 1 flatter
    top_k: int | None = None         # keep only the k most likely tokens
    top_p: float | None = None       # keep the smallest set with probability >= p
    seed: int | None = None          # for repeatable samples

    def __post_init__(self) -> None:
        if not (self.temperature == 0 or MIN_TEMPERATURE <= self.temperature <= MAX_TEMPERATURE):
            raise RnnkitError(f"temperature must be 0 (greedy) or in [{MIN_TEMPERATURE}, "
                              f"{MAX_TEMPERATURE}], got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise RnnkitError(f"top-k must be at least 1, got {self.top_k}")
        if self.top_p is not None and not MIN_TOP_P <= self.top_p <= 1:
            raise RnnkitError(f"top-p must be in [{MIN_TOP_P}, 1], got {self.top_p}")


def filter_logits(logits: Tensor, config: SamplingConfig) -> Tensor:
    """logits (B, V) scaled by temperature, with the filtered-out tokens set to -inf."""
    logits = logits / config.temperature
    if config.top_k is not None and config.top_k < logits.shape[-1]:
        kth = logits.topk(config.top_k, dim=-1).values[..., -1:]          # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if config.top_p is not None and config.top_p < 1:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) >= config.top_p     # mass before >= p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def sample_next(logits: Tensor, config: SamplingConfig,
                generator: torch.Generator | None = None) -> Tensor:
    """logits (B, V) -> next token ids (B,)."""
    if config.temperature == 0:
        return logits.argmax(dim=-1)
    probs = filter_logits(logits.float(), config).softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
