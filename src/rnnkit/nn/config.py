"""Configuration of a stacked recurrent layer."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import RnnkitError

CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
PATHS = ("auto", "fused", "explicit", "loop")


def check_layer_sizes(config, *, max_dropout: float = 1.0) -> None:
    """One-line errors for a layer config's input_size, hidden_size, num_layers and dropout
    (in [0, max_dropout), or [0, 1] when ``max_dropout`` is None, as ``torch.nn`` allows)."""
    for name in ("input_size", "hidden_size", "num_layers"):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
    if max_dropout is None and not 0.0 <= config.dropout <= 1.0:
        raise RnnkitError(f"dropout must be in [0, 1], got {config.dropout!r}")
    if max_dropout is not None and not 0.0 <= config.dropout < max_dropout:
        raise RnnkitError(f"dropout must be in [0, {max_dropout:g}), got {config.dropout!r}")


@dataclass(frozen=True)
class RecurrentConfig:
    """What a stacked (and possibly bidirectional) recurrent layer is made of. The defaults
    are ``torch.nn``'s; rnnkit's models pass ``batch_first=True`` and ``forget_bias=1.0``."""

    cell: str                         # one of CELLS: "lstm", "gru", "rnn_tanh", "rnn_relu"
    input_size: int                   # I: features per timestep of the input
    hidden_size: int                  # H: state size of every cell
    num_layers: int = 1               # L: cells stacked in depth
    bias: bool = True                 # bias_ih and bias_hh in every cell
    dropout: float = 0.0              # on the outputs of every layer but the last, in training
    bidirectional: bool = False       # D = 2: a reversed pass per layer, outputs concatenated
    forget_bias: float | None = None  # LSTM only: initial forget-gate bias; None = torch.nn init
    path: str = "auto"                # "fused" (PyTorch kernels), "explicit" (hand-written BPTT),
                                      # "loop" (the reference), "auto" (fastest)
    layer_norm: bool = False          # LSTM only: layer-normalised LSTM (Ba et al. 2016, 3.1)
    recurrent_dropout: float = 0.0    # variational dropout on h_{t-1} entering W_hh, one mask
                                      # per sequence and layer (Gal & Ghahramani 2016), training
    batch_first: bool = False         # input and output (B, T, C) rather than (T, B, C)
    proj_size: int = 0                # LSTM only: P > 0 projects each h to P features (W_hr)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise RnnkitError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        check_layer_sizes(self, max_dropout=None)
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
        self._check_projection()

    def _check_projection(self) -> None:
        P = self.proj_size
        if not isinstance(P, int) or isinstance(P, bool) or P < 0:
            raise RnnkitError(f"proj_size must be a non-negative integer, got {P!r}")
        if not P:
            return
        if self.cell != "lstm":
            raise RnnkitError(f"proj_size is an LSTM option, not one of the {self.cell!r} cell")
        if P >= self.hidden_size:
            raise RnnkitError(f"proj_size ({P}) must be smaller than hidden_size "
                              f"({self.hidden_size})")
        if self.needs_explicit or self.path == "explicit":
            raise RnnkitError("proj_size runs on path='fused' or 'loop' only: the explicit LSTM, "
                              "and with it layer_norm and recurrent_dropout, has no projection")

    @property
    def needs_explicit(self) -> bool:
        """Whether the cell has something PyTorch's fused kernels cannot run."""
        return self.layer_norm or self.recurrent_dropout > 0.0

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def state_width(self) -> int:
        """The width of h: proj_size when the LSTM projects, else hidden_size."""
        return self.proj_size or self.hidden_size

    @property
    def output_size(self) -> int:
        return self.num_directions * self.state_width
