"""The time loop: run any cell over a sequence, forward or reversed, respecting lengths.

This is the reference path: readable, and what every fast path is tested against. The input
projection for all timesteps is one matrix product outside the loop; the loop then ``unbind``s it
(indexing ``xp[:, t]`` under autograd would zero-fill a whole (B, T, G*H) buffer per step in the
backward pass).

Right-padded batches: with ``lengths`` (B,), a step at t >= lengths[b] leaves sequence b's state
unchanged and writes a zero output, so the final state is the one at each sequence's last real
step, and a reversed pass starts at each sequence's own end: the numbers ``torch.nn`` computes on
a ``PackedSequence``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.nn.cell import RecurrentCell, State


def tree_where(mask: Tensor, new: State, old: State) -> State:
    """``torch.where(mask, new, old)`` over a state that is a tensor or a tuple of tensors."""
    if isinstance(new, Tensor):
        return torch.where(mask, new, old)
    return tuple(torch.where(mask, n, o) for n, o in zip(new, old))


def valid_mask(lengths: Tensor, steps: int) -> Tensor:
    """(T, B, 1) bool: True where timestep t is a real step of sequence b."""
    t = torch.arange(steps, device=lengths.device)
    return (t[:, None] < lengths[None, :])[..., None]


def scan(cell: RecurrentCell, x: Tensor, state: State, *, lengths: Tensor | None = None,
         reverse: bool = False, recurrent_mask: Tensor | None = None) -> tuple[Tensor, State]:
    """Run ``cell`` over x (B, T, I) from ``state``; returns (outputs (B, T, H), final state).

    ``recurrent_mask`` (B, H): variational dropout, the same mask on h_{t-1} at every step
    (:meth:`~rnnkit.nn.cell.RecurrentCell.step_projected`)."""
    def step(xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        return cell.step_projected(xp_t, state, recurrent_mask=recurrent_mask)

    return scan_projected(step, cell.project_input(x), state, lengths=lengths, reverse=reverse)


def scan_projected(step, xp: Tensor, state: State, *, lengths: Tensor | None = None,
                   reverse: bool = False) -> tuple[Tensor, State]:
    """The time loop of :func:`scan` over inputs already projected, xp (B, T, G*H), with
    ``step(xp_t, state) -> (y_t, new_state)``; returns (outputs (B, T, H), final state)."""
    steps = xp.shape[1]
    if steps and torch.is_autocast_enabled(xp.device.type):
        # under autocast the projections are bfloat16: the state follows, once, not per step
        dtype = xp.dtype
        state = state.to(dtype) if isinstance(state, Tensor) else tuple(s.to(dtype) for s in state)
    masks = valid_mask(lengths.to(xp.device), steps).unbind(0) if lengths is not None else None
    outputs: list[Tensor] = [xp.new_empty(0)] * steps
    xp_t = xp.unbind(1)                                  # T x (B, G*H)
    for t in (reversed(range(steps)) if reverse else range(steps)):
        y, new_state = step(xp_t[t], state)
        if masks is None:
            state = new_state
        else:
            state = tree_where(masks[t], new_state, state)
            y = torch.where(masks[t], y, 0.0)
        outputs[t] = y
    return torch.stack(outputs, dim=1), state            # (B, T, H)


class Recurrence(nn.Module):
    """One cell run over time in one direction: the building block for custom stacks.

    >>> import torch
    >>> from rnnkit.nn import GRUCell
    >>> layer = Recurrence(GRUCell(3, 4), reverse=True)
    >>> y, h = layer(torch.randn(2, 6, 3))
    >>> y.shape, h.shape
    (torch.Size([2, 6, 4]), torch.Size([2, 4]))
    """

    def __init__(self, cell: RecurrentCell, *, reverse: bool = False) -> None:
        super().__init__()
        self.cell = cell
        self.reverse = reverse

    def forward(self, x: Tensor, state: State | None = None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, State]:
        if state is None:
            state = self.cell.initial_state(x.shape[0], dtype=x.dtype, device=x.device)
        return scan(self.cell, x, state, lengths=lengths, reverse=self.reverse)
