"""Autoregressive generation from any model with ``forward(tokens, state) -> (logits, state)``.

The prompt is read in one call (the recurrent layer's fast path over the whole prompt); then
each new token is fed back one at a time with the carried state, so each step costs O(1) in the
length generated so far.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.infer.sampling import SamplingConfig, sample_next


@torch.inference_mode()
def generate_tokens(model: nn.Module, prompt: Tensor, max_new_tokens: int,
                    sampling: SamplingConfig = SamplingConfig()) -> Iterator[int]:
    """Yield ``max_new_tokens`` token ids continuing ``prompt`` (T,), one at a time."""
    if prompt.dim() != 1 or prompt.numel() == 0:
        raise RnnkitError("the prompt must contain at least one token")
    if max_new_tokens < 0:
        raise RnnkitError(f"length must be >= 0, got {max_new_tokens}")
    generator = None
    if sampling.seed is not None:
        generator = torch.Generator(device=prompt.device).manual_seed(sampling.seed)
    was_training = model.training
    model.eval()
    try:
        logits, state = model(prompt[None, :], None)                     # (1, T, V)
        for _ in range(max_new_tokens):
            token = sample_next(logits[:, -1], sampling, generator)       # (1,)
            yield int(token)
            logits, state = model(token[:, None], state)                  # (1, 1, V)
    finally:
        model.train(was_training)
