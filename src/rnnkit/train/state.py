"""A model's recurrent state as the training loop sees it: None, a tensor, or nested tuples and
lists of them (an LSTM's ``(h, c)``, one entry per layer); mapped over, and detached at a
truncated-BPTT window boundary."""

from __future__ import annotations

from typing import Callable

from torch import Tensor

State = Tensor | tuple | list | None  # a model's recurrent state, possibly nested


def map_state(state: State, fn: Callable[[Tensor], Tensor]) -> State:
    """Apply ``fn`` to every tensor of a (nested tuple/list) state, keeping its structure."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # namedtuple
        return type(state)(*(map_state(s, fn) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(s, fn) for s in state)
    raise TypeError(f"recurrent state must be a Tensor or a tuple/list of them, got {type(state)}")


def detach_state(state: State) -> State:
    """Cut the autograd history of a carried state: truncated BPTT's window boundary."""
    return map_state(state, Tensor.detach)
