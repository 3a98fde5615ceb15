"""The parameters every recurrent cell shares, and the pure-step contract.

A cell is a pure function of one timestep, ``step(x_t, state) -> (y_t, new_state)``: the state is
passed in and returned, never stored on the module. Each cell keeps ONE fused input projection
``w_ih`` (G*H, I) and ONE fused recurrent projection ``w_hh`` (G*H, H), G being the number of gates,
laid out exactly as in ``torch.nn`` so that weights transfer both ways. Because the input projection
does not depend on the state, a time loop computes it for all timesteps in one matrix product
(:meth:`RecurrentCell.project_input`) and then calls :meth:`RecurrentCell.step_projected` per step.
"""

from __future__ import annotations

import math
from typing import ClassVar, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# An LSTM state is (h, c); the other cells carry h alone.
State = Union[Tensor, tuple[Tensor, ...]]


class RecurrentCell(nn.Module):
    """Base of the cells: fused projections, ``torch.nn`` initialisation, and ``step``.

    Subclasses set ``num_gates`` and ``state_size`` (1 for h, 2 for (h, c)) and implement
    :meth:`step_projected`.
    """

    num_gates: ClassVar[int]
    state_size: ClassVar[int] = 1

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        gh = self.num_gates * hidden_size
        self.w_ih = nn.Parameter(torch.empty(gh, input_size))  # (G*H, I)
        self.w_hh = nn.Parameter(torch.empty(gh, hidden_size))  # (G*H, H)
        self.b_ih = nn.Parameter(torch.empty(gh)) if bias else None  # (G*H,)
        self.b_hh = nn.Parameter(torch.empty(gh)) if bias else None  # (G*H,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as ``torch.nn`` does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.b_ih is not None}"

    def project_input(self, x: Tensor) -> Tensor:
        """``x @ w_ih.T + b_ih``: (..., I) -> (..., G*H). One product for all timesteps."""
        return F.linear(x, self.w_ih, self.b_ih)

    def project_hidden(self, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """``(m * h) @ w_hh.T + b_hh``: (B, H) -> (B, G*H); m is the variational dropout mask
        (B, H) of the sequence (Gal & Ghahramani 2016), or None."""
        return F.linear(h if recurrent_mask is None else h * recurrent_mask, self.w_hh, self.b_hh)

    def initial_state(self, batch_size: int, *, dtype: torch.dtype, device: torch.device) -> State:
        """The zero state: h, or (h, c), each (B, H)."""
        zeros = [torch.zeros(batch_size, self.hidden_size, dtype=dtype, device=device)
                 for _ in range(self.state_size)]
        return zeros[0] if self.state_size == 1 else tuple(zeros)

    def step(self, x_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None
             ) -> tuple[Tensor, State]:
        """One timestep: x_t (B, I), state -> (y_t (B, H), new_state)."""
        return self.step_projected(self.project_input(x_t), state, recurrent_mask=recurrent_mask)

    def step_projected(self, xp_t: Tensor, state: State, *,
                       recurrent_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """One timestep from the already projected input xp_t (B, G*H). ``recurrent_mask``
        (B, H) multiplies h_{t-1} where it enters the recurrent projection only (variational
        dropout: the same mask at every step of a sequence)."""
        raise NotImplementedError
