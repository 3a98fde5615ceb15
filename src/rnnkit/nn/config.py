"""Configuration of a stacked recurrent layer."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import RnnkitError

CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
PATHS = ("auto", "fused", "explicit", "loop")


def check_layer_sizes(config) -> None:
    """One-line errors for a layer config's input_size, hidden_size, num_layers and dropout."""
    for name in ("input_size", "hidden_size", "num_layers"):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
    if not 0.0 <= config.dropout < 1.0:
        raise RnnkitError(f"dropout must be in [0, 1), got {config.dropout!r}")


@dataclass(frozen=True)
class RecurrentConfig:
    """What a stacked (and possibly bidirectional) recurrent layer is made of."""

    cell: str                         # one of CELLS: "lstm", "gru", "rnn_tanh", "rnn_relu"
    input_size: int                   # I: features per timestep of the input
    hidden_size: int                  # H: state size of every cell
    num_layers: int = 1               # L: cells stacked in depth
    bias: bool = True                 # b_ih and b_hh in every cell
    dropout: float = 0.0              # on the outputs of every layer but the last, in training
    bidirectional: bool = False       # D = 2: a reversed pass per layer, outputs concatenated
    forget_bias: float | None = 1.0   # LSTM only: initial forget-gate bias; None = torch.nn init
    path: str = "auto"                # "fused" (PyTorch kernels), "explicit" (hand-written BPTT),
                                      # "loop" (the reference), "auto" (fastest)
    layer_norm: bool = False          # LSTM only: layer-normalised LSTM (Ba et al. 2016, 3.1)
    recurrent_dropout: float = 0.0    # variational dropout on h_{t-1} entering W_hh, one mask
                                      # per sequence and layer (Gal & Ghahramani 2016), training

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise RnnkitError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        check_layer_sizes(self)
        if self.path not in PATHS:
            raise RnnkitError(f"unknown path {self.path!r}; choose one of {', '.join(PATHS)}")
        if not 0.0 <= self.recurrent_dropout < 1.0:
            raise RnnkitError(f"recurrent_dropout must be in [0, 1), got "
                              f"{self.recurrent_dropout!r}")
        if self.layer_norm and self.cell != "lstm":
            raise RnnkitError(f"layer_norm is an LSTM option, not one of the {self.cell!r} cell")
        if self.path == "fused" and self.needs_explicit:
            raise RnnkitError("path='fused' runs PyTorch's kernels, which have no layer norm or "
                              "recurrent dropout; use path='explicit', 'loop' or 'auto'")

    @property
    def needs_explicit(self) -> bool:
        """Whether the cell has something PyTorch's fused kernels cannot run."""
        return self.layer_norm or self.recurrent_dropout > 0.0

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        return self.num_directions * self.hidden_size
