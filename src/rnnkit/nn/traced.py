"""The time loop as one traced loop: what the layers run while ``torch.export`` traces them.

``torch.export`` (and ``torch.onnx.export``, which calls it) cannot trace the other paths with a
dynamic number of timesteps: the explicit Functions' loops are compiled code, PyTorch's fused
kernels are decomposed into one copy of the step per timestep, and a Python ``for`` over T
unrolls T copies. Here the step is traced once, as the body of PyTorch's ``scan`` operator
(``torch._higher_order_ops.scan``), which the exported program keeps as a loop over any T and
ONNX writes as its ``Scan`` operator. The numbers are :func:`rnnkit.nn.recurrence.scan`'s:

.. math::
    (y_t, s_t) = \\mathrm{step}(x_t, s_{t-1}), \\qquad
    s_t \\leftarrow m_t \\, s_t + (1 - m_t) \\, s_{t-1}, \\qquad y_t \\leftarrow m_t \\, y_t,

with m_t = [t < length] per sequence (right padding: the state stops at each sequence's last
real step; a reversed pass starts at each sequence's own end), and every step of the loop is
the cell's own ``step_projected``. A call whose T is a plain 1 (a decoder or generation step)
runs the step alone, without a loop around it.

>>> import torch
>>> from rnnkit.nn import GRUCell, scan
>>> cell = GRUCell(3, 4)
>>> x, h0, lengths = torch.randn(2, 5, 3), torch.zeros(2, 4), torch.tensor([5, 2])
>>> y, h = traced_scan(cell, x, h0, lengths=lengths, reverse=True)
>>> y_ref, h_ref = scan(cell, x, h0, lengths=lengths, reverse=True)
>>> bool(torch.allclose(y, y_ref, atol=1e-6)), bool(torch.allclose(h, h_ref, atol=1e-6))
(True, True)
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from rnnkit.nn.cell import RecurrentCell, State
from rnnkit.nn.recurrence import tree_where, valid_mask

# step(inputs at t (a tensor or a tuple of them, each (B, ...)), state) -> (y_t (B, H), state)
Step = Callable[[object, State], tuple[Tensor, State]]


def _torch_scan():
    """PyTorch's ``scan`` operator, imported when an export needs it: it is private API that
    older torch releases (rnnkit supports torch >= 2.4) do not have."""
    try:
        from torch._higher_order_ops.scan import scan
    except ImportError:
        from rnnkit.errors import RnnkitError
        raise RnnkitError(f"exporting a recurrent loop needs torch's scan operator, which torch "
                          f"{torch.__version__} lacks; upgrade torch (tested: 2.13)") from None
    return scan


def is_exporting() -> bool:
    """Whether ``torch.export`` (or ``torch.onnx.export``) is tracing the caller now."""
    probe = getattr(torch.compiler, "is_exporting", None)    # torch >= 2.5; older: never
    return bool(probe is not None and probe())


def _clone(state: State) -> State:
    return state.clone() if isinstance(state, Tensor) else tuple(s.clone() for s in state)


def traced_scan_projected(step: Step, xs: Tensor | tuple[Tensor, ...], state: State, *,
                          lengths: Tensor | None = None, reverse: bool = False
                          ) -> tuple[Tensor, State]:
    """``step`` over time: xs (B, T, ...) (or a tuple of such), state -> (outputs (B, T, H),
    final state). :func:`~rnnkit.nn.recurrence.scan_projected`'s contract in one traced loop."""
    parts = xs if isinstance(xs, tuple) else (xs,)
    steps = parts[0].shape[1]
    if isinstance(steps, int) and steps == 1:     # a plain step (a length can only be 1)
        inputs = tuple(p[:, 0] for p in parts)
        y, state = step(inputs if isinstance(xs, tuple) else inputs[0], state)
        return y[:, None], state                                       # (B, 1, H)
    time_major = tuple(p.transpose(0, 1) for p in parts)              # each (T, B, ...)
    masks = None if lengths is None else valid_mask(lengths.to(parts[0].device), steps)

    def body(carry: State, inputs: tuple[Tensor, ...]) -> tuple[State, Tensor]:
        if masks is None:
            xs_t = inputs
        else:
            *xs_t, m_t = inputs                                        # m_t (B, 1)
        y, new = step(tuple(xs_t) if isinstance(xs, tuple) else xs_t[0], carry)
        if masks is not None:
            new = tree_where(m_t, new, carry)
            y = torch.where(m_t, y, 0.0)
        return new, y.clone()          # the loop's outputs may not alias its carried state

    scanned = time_major if masks is None else (*time_major, masks)
    final, ys = _torch_scan()(body, _clone(state), scanned, reverse=reverse)  # ys (T, B, H)
    return ys.transpose(0, 1), final                                   # (B, T, H)


def traced_scan(cell: RecurrentCell, x: Tensor, state: State, *,
                lengths: Tensor | None = None, reverse: bool = False,
                recurrent_mask: Tensor | None = None) -> tuple[Tensor, State]:
    """:func:`rnnkit.nn.recurrence.scan` (same arguments, same numbers) as one traced loop:
    the input projection for all steps is one product, the loop runs ``step_projected``."""
    def step(xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        return cell.step_projected(xp_t, state, recurrent_mask=recurrent_mask)

    return traced_scan_projected(step, cell.project_input(x), state, lengths=lengths,
                                 reverse=reverse)
