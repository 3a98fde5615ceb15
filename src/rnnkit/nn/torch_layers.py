"""``RNN``, ``LSTM`` and ``GRU``: :class:`~rnnkit.nn.layers.StackedRecurrent` with
``torch.nn``'s constructors, positional order, defaults and argument errors, so that swapping the
import is the whole port; rnnkit's additions are keyword-only.

A whole model holding them loads with ``torch.load(weights_only=True)`` where the same model
holding ``torch.nn``'s would: its caller lists ``torch.nn``'s classes in ``safe_globals`` (as
pytorch/examples' ``word_language_model`` does), so rnnkit adds its own to torch's allowlist
(:data:`SAFE_GLOBALS`) when imported."""

from __future__ import annotations

import numbers
import warnings

import torch

from rnnkit.nn.config import RecurrentConfig
from rnnkit.nn.elman import ElmanCell, RNNCell
from rnnkit.nn.gru import GRUCell
from rnnkit.nn.layers import StackedRecurrent
from rnnkit.nn.ln_lstm import LayerNormLSTMCell
from rnnkit.nn.lstm import LSTMCell


def check_torch_arguments(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                          proj_size) -> None:
    """``torch.nn.RNNBase``'s checks, with its exception types and messages (and its warning
    for dropout on a single layer)."""
    if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
            or not 0 <= dropout <= 1):
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                      "non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
    for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                              ("input_size", input_size, int), ("hidden_size", hidden_size, int)):
        if not isinstance(value, kind):
            raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                            f"{type(value).__name__}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")


class RNN(StackedRecurrent):
    """``torch.nn.RNN``: Elman layers, h_t = tanh|relu(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None, *,
                 path: str = "auto", recurrent_dropout: float = 0.0, **unexpected) -> None:
        _refuse(unexpected, "RNN")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        check_torch_arguments(input_size, hidden_size, num_layers, bias, batch_first, dropout, 0)
        super().__init__(RecurrentConfig(
            f"rnn_{nonlinearity}", input_size, hidden_size, num_layers, bias, float(dropout),
            bidirectional, path=path, recurrent_dropout=recurrent_dropout,
            batch_first=batch_first), device=device, dtype=dtype)

    @property
    def nonlinearity(self) -> str:
        return self.config.cell.removeprefix("rnn_")


class LSTM(StackedRecurrent):
    """``torch.nn.LSTM``: gates i, f, g, o; state (h_n, c_n); ``proj_size`` as in torch.nn."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None, *,
                 forget_bias: float | None = None, path: str = "auto", layer_norm: bool = False,
                 recurrent_dropout: float = 0.0) -> None:
        check_torch_arguments(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                              proj_size)
        super().__init__(RecurrentConfig(
            "lstm", input_size, hidden_size, num_layers, bias, float(dropout), bidirectional,
            forget_bias, path, layer_norm, recurrent_dropout, batch_first, proj_size),
            device=device, dtype=dtype)


class GRU(StackedRecurrent):
    """``torch.nn.GRU``: gates r, z, n in ``torch.nn``'s formulation."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, *, path: str = "auto",
                 recurrent_dropout: float = 0.0, **unexpected) -> None:
        _refuse(unexpected, "GRU")
        check_torch_arguments(input_size, hidden_size, num_layers, bias, batch_first, dropout, 0)
        super().__init__(RecurrentConfig(
            "gru", input_size, hidden_size, num_layers, bias, float(dropout), bidirectional,
            path=path, recurrent_dropout=recurrent_dropout, batch_first=batch_first),
            device=device, dtype=dtype)


def _refuse(unexpected: dict, name: str) -> None:
    """torch.nn's answer to ``proj_size`` given to an RNN or GRU, and Python's to any other."""
    if "proj_size" in unexpected:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if unexpected:
        raise TypeError(f"{name}.__init__() got an unexpected keyword argument "
                        f"'{next(iter(unexpected))}'")


LAYERS = {"lstm": LSTM, "gru": GRU, "rnn_tanh": RNN, "rnn_relu": RNN}


def build_recurrent(config: RecurrentConfig, *, device=None, dtype=None) -> StackedRecurrent:
    """The layer class of ``config.cell`` (``LSTM``, ``GRU`` or ``RNN``) built from ``config``."""
    return LAYERS[config.cell].from_config(config, device=device, dtype=dtype)


# What a pickled layer or cell holds besides torch's own types: torch.load(weights_only=True)
# rebuilds these (nn.Module's state and a frozen dataclass's fields, no code of the file's).
SAFE_GLOBALS = [RNN, LSTM, GRU, RecurrentConfig, ElmanCell, RNNCell, LSTMCell, GRUCell,
                LayerNormLSTMCell]
torch.serialization.add_safe_globals(SAFE_GLOBALS)
