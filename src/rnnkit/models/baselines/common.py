"""What the baselines share: input checks, size checks, zeroed padding."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError


def check_sizes(config: object, names: tuple[str, ...]) -> None:
    """One-line error unless every field in ``names`` is a positive integer."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise RnnkitError(f"{name} must be a positive integer, got {value!r}")


def check_dropout(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise RnnkitError(f"dropout must be in [0, 1), got {p!r}")


def check_input(x: Tensor, input_size: int, lengths: Tensor | None) -> None:
    """One-line errors for a badly shaped input or lengths (the recurrent layers' wording)."""
    if x.dim() != 3 or x.shape[-1] != input_size:
        raise RnnkitError(f"expected input (batch, time, {input_size}), got shape "
                          f"{tuple(x.shape)}")
    B, T = x.shape[:2]
    if T == 0:
        raise RnnkitError("expected at least one timestep, got an empty sequence")
    if lengths is None:
        return
    if lengths.shape != (B,):
        raise RnnkitError(f"lengths must have shape ({B},), got {tuple(lengths.shape)}")
    if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > T):
        raise RnnkitError(f"lengths must lie in [1, {T}], got {lengths.tolist()}")


def zero_padded(h: Tensor, lengths: Tensor | None) -> Tensor:
    """Outputs h (B, T, H) with the steps at t >= lengths[b] set to zero, like the RNN layers."""
    if lengths is None:
        return h
    T = h.shape[1]
    valid = torch.arange(T, device=h.device)[None, :] < lengths.to(h.device)[:, None]  # (B, T)
    return torch.where(valid[..., None], h, 0.0)
