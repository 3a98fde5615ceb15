"""The parameters every recurrent cell shares, and the pure-step contract.

A cell is a pure function of one timestep, ``step(x_t, state) -> (y_t, new_state)``: the state is
passed in and returned, never stored on the module. Each cell keeps ONE fused input projection
``weight_ih`` (G*H, I) and ONE fused recurrent projection ``weight_hh`` (G*H, H), G being the
number of gates, under ``torch.nn``'s names and layout, so that weights and state_dicts transfer
both ways. Because the input projection does not depend on the state, a time loop computes it for
all timesteps in one matrix product (:meth:`RecurrentCell.project_input`) and then calls
:meth:`RecurrentCell.step_projected` per step.

Called as a module, a cell is ``torch.nn``'s cell: ``cell(input, hx=None)`` takes input (B, I)
or unbatched (I,), a zero state when ``hx`` is None, and returns the new state alone (h, or
(h, c) for the LSTM), refusing a state whose shape does not match with ``torch.nn``'s message.
"""

from __future__ import annotations

import math
from typing import ClassVar, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import ShapeError

# An LSTM state is (h, c); the other cells carry h alone.
State = Union[Tensor, tuple[Tensor, ...]]


class RecurrentCell(nn.Module):
    """Base of the cells: fused projections, ``torch.nn``'s constructor, parameters,
    initialisation and ``forward``, and rnnkit's pure ``step``.

    Subclasses set ``num_gates`` and ``state_size`` (1 for h, 2 for (h, c)) and implement
    :meth:`step_projected`.
    """

    num_gates: ClassVar[int]
    state_size: ClassVar[int] = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gh = self.num_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size, **factory))       # (G*H, I)
        self.weight_hh = nn.Parameter(torch.empty(gh, self.state_widths[0], **factory))  # (G*H, H)
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gh, **factory))                   # (G*H,)
            self.bias_hh = nn.Parameter(torch.empty(gh, **factory))                   # (G*H,)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.extra_parameters(factory)
        self.reset_parameters()

    def extra_parameters(self, factory: dict) -> None:
        """Parameters a subclass adds after the four of ``torch.nn`` (none here)."""

    @property
    def state_widths(self) -> tuple[int, ...]:
        """The width of each state tensor: (H,), or (H, H) for (h, c)."""
        return (self.hidden_size,) * self.state_size

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as ``torch.nn`` does."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias is True else f"{s}, bias={self.bias}"

    def project_input(self, x: Tensor) -> Tensor:
        """``x @ weight_ih.T + bias_ih``: (..., I) -> (..., G*H). One product for all steps."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def project_hidden(self, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """``(m * h) @ weight_hh.T + bias_hh``: (B, H) -> (B, G*H); m is the variational dropout
        mask (B, H) of the sequence (Gal & Ghahramani 2016), or None."""
        return F.linear(h if recurrent_mask is None else h * recurrent_mask, self.weight_hh,
                        self.bias_hh)

    def initial_state(self, batch_size: int, *, dtype: torch.dtype, device: torch.device) -> State:
        """The zero state: h, or (h, c), each (B, width)."""
        zeros = [torch.zeros(batch_size, width, dtype=dtype, device=device)
                 for width in self.state_widths]
        return zeros[0] if self.state_size == 1 else tuple(zeros)

    def check_step(self, x_t: Tensor, state: State) -> None:
        """ShapeError (a RuntimeError) with ``torch.nn``'s message unless x_t is (B, I) and every
        state tensor (B, width): nothing is broadcast."""
        if x_t.dim() != 2 or x_t.shape[1] != self.input_size:
            got = x_t.shape[-1] if x_t.dim() else None
            raise ShapeError(f"input has inconsistent input_size: got {got} expected "
                             f"{self.input_size}")
        parts = state if isinstance(state, tuple) else (state,)
        if len(parts) != self.state_size:
            raise ShapeError(f"{type(self).__name__} takes a state of {self.state_size} "
                             f"tensor(s), got {len(parts)}")
        for i, (part, width) in enumerate(zip(parts, self.state_widths)):
            if part.dim() != 2 or part.shape[0] != x_t.shape[0]:
                got = part.shape[0] if part.dim() == 2 else tuple(part.shape)
                raise ShapeError(f"Input batch size {x_t.shape[0]} doesn't match hidden{i} "
                                 f"batch size {got}")
            if part.shape[1] != width:
                raise ShapeError(f"hidden{i} has inconsistent hidden_size: got "
                                 f"{part.shape[1]}, expected {width}")

    def step(self, x_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None
             ) -> tuple[Tensor, State]:
        """One timestep: x_t (B, I), state -> (y_t (B, H), new_state); shapes are checked."""
        self.check_step(x_t, state)
        return self.step_projected(self.project_input(x_t), state, recurrent_mask=recurrent_mask)

    def step_projected(self, xp_t: Tensor, state: State, *,
                       recurrent_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """One timestep from the already projected input xp_t (B, G*H). ``recurrent_mask``
        (B, H) multiplies h_{t-1} where it enters the recurrent projection only (variational
        dropout: the same mask at every step of a sequence). Shapes are not checked: this is
        the time loop's inner call."""
        raise NotImplementedError

    def forward(self, input: Tensor, hx: State | None = None) -> State:
        """``torch.nn``'s cell call: input (B, I) or (I,), hx as ``step``'s state (or None for
        zeros) -> the new state, with the input's batching."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        parts = None if hx is None else (tuple(hx) if self.state_size == 2 else (hx,))
        for i, part in enumerate(parts or ()):
            if part.dim() not in (1, 2):
                which = f"hx[{i}]" if self.state_size == 2 else "hidden"
                raise ValueError(f"{name}: Expected {which} to be 1D or 2D, got {part.dim()}D "
                                 "instead")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)                  # (B, I)
        if parts is None:
            state = self.initial_state(x.shape[0], dtype=x.dtype, device=x.device)
        else:
            parts = parts if batched else tuple(p.unsqueeze(0) for p in parts)
            state = parts if self.state_size == 2 else parts[0]
        _, new = self.step(x, state)
        if batched:
            return new
        return tuple(s.squeeze(0) for s in new) if self.state_size == 2 else new.squeeze(0)
