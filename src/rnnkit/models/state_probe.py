"""A recurrent encoder run with a zero perturbation on its hidden state at every step and layer.

Backpropagation through time carries dL/dh_t, the derivative of the loss with respect to the
hidden state at t *through everything h_t reaches*: the outputs above it and, in a recurrent
layer, every later state of the same layer. The output sequence of a layer is not that: its
gradient sees only what lies above the layer. Adding eps_t = 0 to the state after each step,

.. math::
    h_t = f(x_t, h_{t-1}) + \\epsilon_t, \\qquad
    \\frac{\\partial \\mathcal{L}}{\\partial \\epsilon_t} = \\frac{d\\mathcal{L}}{d h_t},

changes no number and makes the BPTT quantity an ordinary gradient. The layers run their cells'
``step`` over time (the reference loop, :func:`rnnkit.nn.recurrence.scan`'s semantics for
``lengths`` and reversal), so this path is for diagnostics, not for speed. For an LSTM the
perturbed state is h (the cell state c is left alone).

>>> import torch
>>> from rnnkit.models.encoders import build_encoder
>>> lstm = build_encoder("lstm", 3, 4, 2)
>>> y, state, eps = perturbed_layers(lstm, torch.randn(2, 5, 3))
>>> [e.shape for e in eps]
[torch.Size([2, 5, 4]), torch.Size([2, 5, 4])]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.nn.layers import StackedRecurrent
from rnnkit.nn.minimal import MinimalRecurrent
from rnnkit.nn.recurrence import tree_where, valid_mask


def perturbed_scan(cell: nn.Module, x: Tensor, state, eps: Tensor, *,
                   lengths: Tensor | None = None, reverse: bool = False):
    """``scan`` with h_t += eps[:, t] after each step: x (B, T, I), eps (B, T, H) -> (y, final)."""
    steps = x.shape[1]
    masks = valid_mask(lengths.to(x.device), steps).unbind(0) if lengths is not None else None
    outputs: list[Tensor] = [x.new_empty(0)] * steps
    for t in (reversed(range(steps)) if reverse else range(steps)):
        _, new = cell.step(x[:, t], state)
        if isinstance(new, tuple):                                   # LSTM: (h, c)
            new = (new[0] + eps[:, t], *new[1:])
            y = new[0]
        else:
            new = new + eps[:, t]
            y = new
        if masks is None:
            state = new
        else:
            state = tree_where(masks[t], new, state)
            y = torch.where(masks[t], y, 0.0)
        outputs[t] = y
    return torch.stack(outputs, dim=1), state                        # (B, T, H)


def perturbed_layers(encoder: nn.Module, x: Tensor, state=None, *,
                     lengths: Tensor | None = None) -> tuple[Tensor, object, list[Tensor]]:
    """(output (B, T, D*H), final state in ``forward``'s layout, [eps^l (B, T, D*H) per layer]).

    Each eps^l is a zero leaf that requires grad; the numbers equal ``encoder(x, state)``'s.
    """
    if isinstance(encoder, MinimalRecurrent):
        return _minimal(encoder, x, state, lengths)
    if isinstance(encoder, StackedRecurrent):
        return _stacked(encoder, x, state, lengths)
    raise RnnkitError(f"{type(encoder).__name__} has no recurrent state to perturb")


def _eps(x: Tensor, size: int) -> Tensor:
    return torch.zeros(x.shape[0], x.shape[1], size, dtype=x.dtype, device=x.device,
                       requires_grad=True)                           # (B, T, size)


def _minimal(encoder: MinimalRecurrent, x: Tensor, state, lengths):
    c = encoder.config
    all_eps, finals = [], []
    for l, cell in enumerate(encoder.cells):
        eps = _eps(x, c.hidden_size)
        h0 = state[l] if state is not None else cell.initial_state(
            x.shape[0], dtype=x.dtype, device=x.device)
        x, h_n = perturbed_scan(cell, x, h0, eps, lengths=lengths)   # (B, T, H)
        all_eps.append(eps)
        finals.append(h_n)
        if c.dropout and encoder.training and l < c.num_layers - 1:
            x = F.dropout(x, c.dropout, training=True)
    return x, torch.stack(finals), all_eps                           # (L, B, H)


def _stacked(encoder: StackedRecurrent, x: Tensor, state, lengths):
    c = encoder.config
    D, H = c.num_directions, c.hidden_size
    lstm = c.cell == "lstm"
    all_eps, finals = [], []
    for l in range(c.num_layers):
        eps = _eps(x, D * H)
        outputs = []
        for d in range(D):
            k = l * D + d
            cell = encoder.cells[k]
            if state is None:
                s = cell.initial_state(x.shape[0], dtype=x.dtype, device=x.device)
            else:
                s = (state[0][k], state[1][k]) if lstm else state[k]
            y, final = perturbed_scan(cell, x, s, eps[..., d * H:(d + 1) * H], lengths=lengths,
                                      reverse=d == 1)
            outputs.append(y)
            finals.append(final)
        x = torch.cat(outputs, dim=-1) if D == 2 else outputs[0]    # (B, T, D*H)
        all_eps.append(eps)
        if c.dropout and encoder.training and l < c.num_layers - 1:
            x = F.dropout(x, c.dropout, training=True)
    if lstm:
        final = (torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals]))
    else:
        final = torch.stack(finals)                                  # (L*D, B, H)
    return x, final, all_eps
