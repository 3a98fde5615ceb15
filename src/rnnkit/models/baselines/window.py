"""The input window a stateless encoder carries between calls in place of a recurrent state.

A causal encoder whose output at t depends on at most the last ``k`` inputs (a window MLP, a
causal CNN with receptive field k, a transformer with a context of k) can be run in chunks, or one
token at a time, if each call is given the ``k - 1`` inputs before it. That window is its state::

    z = cat(state, x)            # (B, P + T, I), P <= k - 1 inputs from earlier calls
    outputs = f(z)[:, P:]        # (B, T, H): only x's positions are returned
    state = z[:, -(k - 1):]      # (B, k - 1, I): what the next call needs

``state=None`` means the sequence starts here; the MLP and the CNN then read ``k - 1`` zero
inputs before it, so running a sequence whole or in chunks gives the same outputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError


def with_context(x: Tensor, state: Tensor | None, keep: int, *, zeros: bool) -> Tensor:
    """cat(last ``keep`` inputs of ``state``, x) along time: (B, P + T, I).

    With ``state=None``, ``zeros=True`` prepends ``keep`` zero inputs (the MLP and CNN) and
    ``zeros=False`` prepends nothing (the transformer starts at position 0).
    """
    if keep <= 0:
        return x
    if state is None:
        if not zeros:
            return x
        state = x.new_zeros(x.shape[0], keep, x.shape[-1])
    if state.dim() != 3 or state.shape[0] != x.shape[0] or state.shape[-1] != x.shape[-1]:
        raise RnnkitError(f"the state of a stateless encoder is its window of recent inputs "
                          f"(batch, <= {keep}, {x.shape[-1]}), got shape {tuple(state.shape)}")
    return torch.cat([state[:, state.shape[1] - min(keep, state.shape[1]):], x], dim=1)


def next_context(z: Tensor, keep: int) -> Tensor | None:
    """The last ``keep`` inputs of ``z`` (B, <= keep, I), or None when nothing is needed."""
    if keep <= 0:
        return None
    return z[:, max(0, z.shape[1] - keep):]
