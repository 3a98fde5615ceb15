"""Sequence encoders by name: the one place a model turns ``--cell NAME`` into a module.

Every encoder has the recurrent layers' interface::

    forward(x (B, T, I), state=None, *, lengths=None) -> (output (B, T, output_size), state)

and an ``output_size`` attribute, so a model (language model, classifier, tagger, seq2seq) is
written once and every comparison between cells is one flag apart.
"""

from __future__ import annotations

from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.nn.config import RecurrentConfig
from rnnkit.nn.layers import build_recurrent
from rnnkit.nn.mingru import MinGRU
from rnnkit.nn.minimal import MinimalConfig
from rnnkit.nn.minlstm import MinLSTM

# CLI name -> the layer's own cell name
RECURRENT = {"lstm": "lstm", "gru": "gru", "rnn": "rnn_tanh", "rnn_tanh": "rnn_tanh",
             "rnn_relu": "rnn_relu"}
MINIMAL = {"mingru": MinGRU, "minlstm": MinLSTM}
ENCODERS = (*RECURRENT, *MINIMAL)


def check_cell(cell: str, *, bidirectional: bool = False) -> None:
    """One-line error for a cell name that does not exist or cannot run as asked."""
    if cell not in ENCODERS:
        raise RnnkitError(f"unknown cell {cell!r}; choose one of {', '.join(ENCODERS)}")
    if bidirectional and cell in MINIMAL:
        raise RnnkitError(f"{cell} has no bidirectional form here; use lstm, gru or rnn")


def build_encoder(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, *,
                  dropout: float = 0.0, bidirectional: bool = False) -> nn.Module:
    """The encoder named ``cell`` reading ``input_size`` features per step."""
    check_cell(cell, bidirectional=bidirectional)
    if cell in RECURRENT:
        return build_recurrent(RecurrentConfig(
            RECURRENT[cell], input_size, hidden_size, num_layers=num_layers, dropout=dropout,
            bidirectional=bidirectional))
    return MINIMAL[cell](MinimalConfig(cell, input_size, hidden_size, num_layers=num_layers,
                                       dropout=dropout))
