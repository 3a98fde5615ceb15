"""What a recurrent layer checks and converts at its edges, as ``torch.nn`` does: PackedSequence
in and out, batched or unbatched input, the initial state's shape, and ``lengths``. Every error
is ``torch.nn``'s (:class:`~rnnkit.errors.ShapeError`, a RuntimeError)."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError, ShapeError
from rnnkit.nn.cell import State
from rnnkit.nn.traced import is_exporting


class LayerInputs:
    """Mixed into :class:`~rnnkit.nn.layers.StackedRecurrent`; uses its ``config`` and
    ``_run``."""

    def _state_parts(self, hx: State | None, dims: int) -> tuple[Tensor, ...] | None:
        """hx as a tuple of tensors, each checked to have ``dims`` dimensions."""
        if hx is None:
            return None
        lstm = self.config.cell == "lstm"
        parts = tuple(hx) if lstm else (hx,)
        if lstm and len(parts) != 2 or not all(isinstance(p, Tensor) for p in parts):
            kind = "an (h_0, c_0) tuple" if lstm else "a tensor"
            raise ShapeError(f"{type(self).__name__} takes hx as {kind}")
        if any(p.dim() != dims for p in parts):
            got = ", ".join(f"{p.dim()}-D" for p in parts)
            which, plural = ("hx and cx", f"({got}) tensors") if lstm else ("hx", f"{got} tensor")
            batched = "batched 3-D" if dims == 3 else "unbatched 2-D"
            raise ShapeError(f"For {batched} input, {which} should also be {dims}-D but got "
                             f"{plural}")
        return parts

    def _check_input(self, input: Tensor, time_dim: int | None) -> None:
        """torch.nn's input checks: dtype, input_size, and at least one step."""
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype and not torch._C._is_any_autocast_enabled():
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight.dtype}). Convert input: input.to({weight.dtype}), or "
                             f"convert model: model.to({input.dtype})")
        if input.shape[-1] != self.config.input_size:
            raise ShapeError(f"input.size(-1) must be equal to input_size. Expected "
                             f"{self.config.input_size}, got {input.shape[-1]}")
        if time_dim is not None and input.shape[time_dim] == 0:
            raise ShapeError("Expected sequence length to be larger than 0 in RNN")

    def _state_tuple(self, parts: tuple[Tensor, ...] | None, batch: int,
                     like: Tensor) -> tuple[Tensor, ...]:
        """The state as (h,) or (h, c), h (L*D, B, P or H) and c (L*D, B, H); zeros when
        ``parts`` is None."""
        c = self.config
        widths = (c.state_width, c.hidden_size) if c.cell == "lstm" else (c.hidden_size,)
        shapes = [(len(self._cells), batch, width) for width in widths]
        if parts is None:
            return tuple(like.new_zeros(shape) for shape in shapes)
        for i, (part, shape) in enumerate(zip(parts, shapes)):
            if part.shape != shape:
                which = f"hidden[{i}]" if len(shapes) == 2 else "hidden"
                raise ShapeError(f"Expected {which} size {shape}, got {list(part.shape)}")
        return parts

    def _check_lengths(self, lengths, batch: int, steps: int) -> Tensor | None:
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        if lengths.shape != (batch,):
            raise RnnkitError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
        if lengths.numel() and not is_exporting() and (
                int(lengths.min()) < 1 or int(lengths.max()) > steps):   # values: not traced
            raise RnnkitError(f"lengths must lie in [1, {steps}], got {lengths.tolist()}")
        return lengths

    def _from_tuple(self, parts: tuple[Tensor, ...]):
        return parts if self.config.cell == "lstm" else parts[0]

    # -- the layers ------------------------------------------------------------------------------
