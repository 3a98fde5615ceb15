"""Recurrent cells (pure steps), the time loop, and stacked layers with torch.nn's interface."""

from rnnkit.nn.cell import RecurrentCell, State
from rnnkit.nn.config import RecurrentConfig
from rnnkit.nn.elman import ElmanCell
from rnnkit.nn.gru import GRUCell
from rnnkit.nn.layers import GRU, LSTM, RNN, StackedRecurrent, build_recurrent, from_torch
from rnnkit.nn.lstm import LSTMCell
from rnnkit.nn.recurrence import Recurrence, scan

__all__ = [
    "RecurrentCell", "State", "ElmanCell", "LSTMCell", "GRUCell",
    "scan", "Recurrence",
    "RecurrentConfig", "StackedRecurrent", "RNN", "LSTM", "GRU",
    "build_recurrent", "from_torch",
]
