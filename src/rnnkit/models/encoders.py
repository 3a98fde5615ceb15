"""Sequence encoders by name: the one place a model turns ``--cell NAME`` into a module.

Every encoder has the recurrent layers' interface::

    forward(x (B, T, I), state=None, *, lengths=None) -> (output (B, T, output_size), state)

and an ``output_size`` attribute, so a model (language model, classifier, tagger, seq2seq) is
written once and every comparison between cells is one flag apart.

The baselines ``mlp``, ``cnn`` and ``transformer`` (:mod:`rnnkit.models.baselines`) have no
recurrent state (``STATELESS``): the state they return is the window of recent inputs they
still need, so streaming generation works for them too. ``bidirectional=True`` gives the
transformer non-causal attention; the window MLP and the causal CNN have no bidirectional form.

Per-layer hidden sequences, documented here for every encoder: :func:`forward_layers` runs an
encoder returning each layer's output sequence (the gradient diagnostics read them).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.baselines import (CNNConfig, CNNEncoder, MLPConfig, MLPEncoder,
                                     TransformerConfig, TransformerEncoder)
from rnnkit.models.baselines.transformer import POSITIONAL
from rnnkit.nn.config import RecurrentConfig
from rnnkit.nn.layers import StackedRecurrent
from rnnkit.nn.torch_layers import build_recurrent
from rnnkit.nn.mingru import MinGRU
from rnnkit.nn.minimal import MinimalConfig, MinimalRecurrent
from rnnkit.nn.minlstm import MinLSTM

# CLI name -> the layer's own cell name
RECURRENT = {"lstm": "lstm", "gru": "gru", "rnn": "rnn_tanh", "rnn_tanh": "rnn_tanh",
             "rnn_relu": "rnn_relu"}
MINIMAL = {"mingru": MinGRU, "minlstm": MinLSTM}
# CLI name -> (config, encoder) of the non-recurrent baselines
BASELINES = {"mlp": (MLPConfig, MLPEncoder), "cnn": (CNNConfig, CNNEncoder),
             "transformer": (TransformerConfig, TransformerEncoder)}
ENCODERS = (*RECURRENT, *MINIMAL, *BASELINES)
STATELESS = tuple(BASELINES)  # no recurrent state: their state is a window of recent inputs
ENCODER_TYPES = (StackedRecurrent, MinimalRecurrent, MLPEncoder, CNNEncoder, TransformerEncoder)


def check_cell(cell: str, *, bidirectional: bool = False) -> None:
    """One-line error for a cell name that does not exist or cannot run as asked."""
    if cell not in ENCODERS:
        raise RnnkitError(f"unknown cell {cell!r}; choose one of {', '.join(ENCODERS)}")
    if bidirectional and cell in MINIMAL:
        raise RnnkitError(f"{cell} has no bidirectional form here; use lstm, gru or rnn")
    if bidirectional and cell in ("mlp", "cnn"):
        raise RnnkitError(f"{cell} is causal by construction (it reads a window of past inputs)"
                          " and has no bidirectional form; use transformer, lstm, gru or rnn")


def positional_options(cell: str, positional: str) -> dict:
    """``build_encoder`` options for a model config's ``positional`` field (``--positional``).

    Only the transformer reads positions from an encoding (``sinusoidal`` or ``learned``); a
    recurrent cell, the window MLP and the causal CNN know order from their structure, so any
    choice other than the default is refused for them rather than silently ignored.
    """
    if positional not in POSITIONAL:
        raise RnnkitError(f"unknown positional encoding {positional!r}; choose one of "
                          f"{', '.join(POSITIONAL)}")
    if cell == "transformer":
        return {"positional": positional}
    if positional != POSITIONAL[0]:
        raise RnnkitError(f"--positional applies to --cell transformer; {cell} knows the order "
                          "of its inputs from its own structure and has no positional encoding")
    return {}


def build_encoder(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, *,
                  dropout: float = 0.0, bidirectional: bool = False, **options) -> nn.Module:
    """The encoder named ``cell`` reading ``input_size`` features per step.

    ``options`` are further fields of the encoder's own config (``window=8`` for mlp,
    ``kernel_size`` for cnn, ``positional="learned"`` or ``max_len`` for transformer, ``mode``
    for mingru/minlstm); a field the encoder does not have is refused.
    """
    check_cell(cell, bidirectional=bidirectional)
    sizes = dict(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                 dropout=dropout)
    if cell in RECURRENT:                                # rnnkit's layout and LSTM forget bias
        config_class, fixed = RecurrentConfig, dict(cell=RECURRENT[cell],
                                                    bidirectional=bidirectional, batch_first=True)
        options = {"forget_bias": 1.0, **options}
    elif cell in MINIMAL:
        config_class, fixed = MinimalConfig, dict(cell=cell)
    else:
        config_class, fixed = BASELINES[cell][0], {}
        if cell == "transformer":
            fixed = dict(causal=not bidirectional)
    known = {f.name for f in dataclasses.fields(config_class)} - set(sizes) - set(fixed)
    unknown = sorted(set(options) - known)
    if unknown:
        raise RnnkitError(f"{cell} has no option {', '.join(unknown)}; its options are "
                          f"{', '.join(sorted(known)) or 'none'}")
    config = config_class(**sizes, **fixed, **options)
    if cell in RECURRENT:
        return build_recurrent(config)
    if cell in MINIMAL:
        return MINIMAL[cell](config)
    return BASELINES[cell][1](config)


def forward_layers(encoder: nn.Module, x: Tensor, state=None, *,
                   lengths: Tensor | None = None) -> tuple[list[Tensor], object]:
    """``encoder(x, state, lengths=lengths)`` with every layer's output sequence kept.

    Returns ``([h^1, ..., h^L], final state)``: h^l (B, T, D*H) is layer l's output (before the
    dropout between layers), the last one is ``forward``'s output, and the final state is in
    ``forward``'s layout. Recurrent stacks run one layer at a time here (each through the same
    path and the same parameters as ``forward``), so every h^l is a node of the autograd graph.
    """
    if hasattr(encoder, "forward_layers"):
        return encoder.forward_layers(x, state, lengths=lengths)
    if isinstance(encoder, MinimalRecurrent):
        return _minimal_layers(encoder, x, state, lengths)
    if isinstance(encoder, StackedRecurrent):
        return _stacked_layers(encoder, x, state, lengths)
    raise RnnkitError(f"{type(encoder).__name__} is not an rnnkit encoder")


def _minimal_layers(encoder: MinimalRecurrent, x: Tensor, state, lengths):
    c = encoder.config
    layers, finals = [], []
    for l, cell in enumerate(encoder.cells):
        x, h_n = cell(x, None if state is None else state[l], mode=c.mode, lengths=lengths)
        layers.append(x)                                             # (B, T, H)
        finals.append(h_n)
        if c.dropout and encoder.training and l < c.num_layers - 1:
            x = F.dropout(x, c.dropout, training=True)
    return layers, torch.stack(finals)                               # (L, B, H)


def _stacked_layers(encoder: StackedRecurrent, x: Tensor, state, lengths):
    c = encoder.config
    D = c.num_directions
    lstm = c.cell == "lstm"
    layers, finals = [], []
    for l in range(c.num_layers):
        view = encoder.single_layer(l)
        part = None
        if state is not None:
            part = tuple(s[l * D:(l + 1) * D] for s in state) if lstm else state[l * D:(l + 1) * D]
        x, final = view(x, part, lengths=lengths)                    # (B, T, D*H)
        layers.append(x)
        finals.append(final)
        if c.dropout and encoder.training and l < c.num_layers - 1:
            x = F.dropout(x, c.dropout, training=True)
    if lstm:
        return layers, (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
    return layers, torch.cat(finals)                                 # (L*D, B, H)
