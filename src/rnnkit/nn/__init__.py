"""Recurrent cells (pure steps), the time loop, and stacked layers with torch.nn's interface."""

from rnnkit.nn.cell import RecurrentCell, State
from rnnkit.nn.config import RecurrentConfig
from rnnkit.nn.elman import ElmanCell, RNNCell
from rnnkit.nn.fast.dispatch import auto_path, explicit_scan
from rnnkit.nn.fast.explicit_elman import ExplicitElman, explicit_elman
from rnnkit.nn.fast.explicit_gru import ExplicitGRU, explicit_gru
from rnnkit.nn.fast.explicit_lstm import ExplicitLSTM, explicit_lstm
from rnnkit.nn.gru import GRUCell
from rnnkit.nn.layers import StackedRecurrent, from_torch
from rnnkit.nn.torch_layers import GRU, LSTM, RNN, build_recurrent
from rnnkit.nn.ln_lstm import LayerNormLSTMCell
from rnnkit.nn.lstm import LSTMCell
from rnnkit.nn.recurrence import Recurrence, scan
from rnnkit.nn.streaming import Streamer

__all__ = [
    "RecurrentCell", "State", "ElmanCell", "RNNCell", "LSTMCell", "GRUCell", "LayerNormLSTMCell",
    "scan", "Recurrence",
    "ExplicitGRU", "ExplicitElman", "explicit_gru", "explicit_elman", "explicit_scan",
    "ExplicitLSTM", "explicit_lstm",
    "RecurrentConfig", "StackedRecurrent", "RNN", "LSTM", "GRU",
    "build_recurrent", "from_torch", "auto_path",
    "Streamer",
]
