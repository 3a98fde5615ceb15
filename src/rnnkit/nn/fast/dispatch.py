"""Which path a stacked layer takes, and the fast ones run: what :mod:`rnnkit.nn.layers` calls.

:func:`auto_path` resolves ``path="auto"`` for a cell, device and grad mode; :func:`forward`
runs a layer on ``"fused"`` (PyTorch's multi-layer kernel, :mod:`~rnnkit.nn.fast.fused`) or
``"explicit"`` (each layer and direction by :func:`explicit_scan`, one autograd node with a
hand-written backward). The reference, ``"loop"``, stays in :mod:`rnnkit.nn.layers` with
:func:`rnnkit.nn.recurrence.scan`; the tests tie every path to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.nn.cell import RecurrentCell, State
from rnnkit.nn.elman import ElmanCell
from rnnkit.nn.fast import native
from rnnkit.nn.fast.explicit_elman import explicit_elman
from rnnkit.nn.fast.explicit_gru import explicit_gru
from rnnkit.nn.fast.explicit_lstm import explicit_lstm
from rnnkit.nn.fast.fused import fused_forward, fused_packed_forward
from rnnkit.nn.fast.projection import project
from rnnkit.nn.gru import GRUCell
from rnnkit.nn.ln_lstm import LayerNormLSTMCell
from rnnkit.nn.lstm import LSTMCell
from rnnkit.nn.traced import is_exporting

if TYPE_CHECKING:                                        # layers imports this module
    from rnnkit.nn.layers import StackedRecurrent


def auto_path(cell: str, device: torch.device, *, grad_enabled: bool = True,
              needs_explicit: bool = False) -> str:
    """The path ``"auto"`` resolves to: the one ``rnnkit bench`` measured fastest for ``cell`` on
    ``device``'s type, for training (``grad_enabled``, the default) or for inference
    (docs/benchmarks.md holds the measurements and the machine they were taken on).

    - While ``torch.export`` (or ``torch.onnx.export``) traces the layer: ``"scan"``, the
      step traced once inside one loop over any number of timesteps, with lengths, layer norm
      and recurrent dropout (:mod:`rnnkit.nn.traced`): the fused kernels are decomposed into
      one copy of the step per timestep, which fixes T, and the explicit Functions' compiled
      loops are opaque to tracers.
    - While ``torch.compile`` or ``torch.jit.trace`` trace it: ``"fused"``, one traceable op,
      or ``"loop"`` when ``needs_explicit``.
    - ``needs_explicit`` (layer norm, or recurrent dropout in training): ``"explicit"``, the only
      fast path that has them.
    - LSTM: ``"fused"`` everywhere: the kernel ``torch.nn.LSTM`` itself runs (oneDNN's fused
      LSTM on CPU, cuDNN on CUDA), so rnnkit's LSTM runs at ``torch.nn.LSTM``'s speed.
    - CUDA, any cell: ``"fused"``: cuDNN runs a whole layer's recurrence in one kernel.
    - GRU and Elman RNN on CPU, training: ``"explicit"``. On CPU ``torch.nn.GRU``/``RNN`` run an
      unfused step loop under autograd (several graph nodes and one weight-gradient product per
      step); the explicit Functions record one node per layer and direction, compute the weight
      gradient as one product over all steps, and run the GRU's time loops compiled
      (:mod:`rnnkit.nn.fast.native`).
    - Inference on CPU (no grad): ``"explicit"`` for Elman (at least ``torch.nn.RNN``'s speed
      where measured); for GRU ``"explicit"`` when its
      compiled loops are built, else ``"fused"``: without a graph to save, the Python loop's
      elementwise ops, dispatched one by one from the interpreter, cost more than
      ``torch.nn.GRU``'s C++ loop.
    """
    if is_exporting():
        return "scan"
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return "loop" if needs_explicit else "fused"
    if needs_explicit:
        return "explicit"
    if cell == "lstm" or device.type != "cpu":
        return "fused"
    if cell == "gru" and not grad_enabled:
        return "explicit" if native.gru_loops() is not None else "fused"
    return "explicit"


def explicit_scan(cell: RecurrentCell, x: Tensor, state: State, *,
                  lengths: Tensor | None = None, reverse: bool = False,
                  recurrent_mask: Tensor | None = None) -> tuple[Tensor, State]:
    """:func:`~rnnkit.nn.recurrence.scan`'s contract, as one autograd node: the input projection
    for all steps is one product under autograd, the time loop and its backward are
    :class:`~rnnkit.nn.fast.explicit_lstm.ExplicitLSTM` / ``ExplicitGRU`` / ``ExplicitElman``."""
    kwargs = dict(lengths=lengths, reverse=reverse, recurrent_mask=recurrent_mask)
    if isinstance(cell, GRUCell):                        # bias_ih is added inside the loop
        return explicit_gru(project(x, cell.weight_ih), state, cell.weight_hh, cell.bias_hh,
                            b_ih=cell.bias_ih, **kwargs)
    if isinstance(cell, ElmanCell):                      # bias_ih is added inside the Function
        return explicit_elman(project(x, cell.weight_ih), state, cell.weight_hh, cell.bias_hh,
                              nonlinearity=cell.nonlinearity, b_ih=cell.bias_ih, **kwargs)
    if isinstance(cell, LayerNormLSTMCell):
        ln = (cell.gain_hh, cell.gain_c, cell.bias_c)
        return explicit_lstm(cell.normalise_input(project(x, cell.weight_ih)), state,
                             cell.weight_hh, b_hh=cell.bias_hh, layer_norm=ln, **kwargs)
    if isinstance(cell, LSTMCell) and not cell.proj_size:
        return explicit_lstm(cell.project_input(x), state, cell.weight_hh, b_hh=cell.bias_hh,
                             layer_norm=None, **kwargs)
    raise RnnkitError(f"the explicit path has no {type(cell).__name__}")


def _flags(layer: StackedRecurrent) -> dict:
    c = layer.config
    return dict(has_biases=c.bias, num_layers=c.num_layers, dropout=c.dropout,
                training=layer.training, bidirectional=c.bidirectional)


def fused(layer: StackedRecurrent, x: Tensor, hx: tuple[Tensor, ...],
          lengths: Tensor | None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``layer`` on PyTorch's kernel: x in the layer's layout ((B, T, I) when batch_first,
    else (T, B, I)), hx (h0,) or (h0, c0), each (L*D, B, H) -> (output in x's layout, final
    states in hx's layout)."""
    return fused_forward(layer.config.cell, x, hx, layer.flat_weights(),
                         batch_first=layer.config.batch_first, lengths=lengths, **_flags(layer))


def fused_packed(layer: StackedRecurrent, data: Tensor, batch_sizes: Tensor,
                 hx: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``layer`` on PyTorch's kernel over a PackedSequence's data and batch sizes, hx in the
    packed (sorted) order -> (output data, final states in that order)."""
    return fused_packed_forward(layer.config.cell, data, batch_sizes, hx, layer.flat_weights(),
                                **_flags(layer))
