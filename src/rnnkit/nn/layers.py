"""Stacked, optionally bidirectional recurrent layers with ``torch.nn``'s interface.

``RNN``, ``LSTM`` and ``GRU`` take ``torch.nn``'s constructor arguments and are always
batch-first::

    forward(x (B, T, I), state=None, *, lengths=None) -> (output (B, T, D*H), final_state)

``final_state`` has ``torch.nn``'s shapes: h_n (L*D, B, H) for RNN and GRU, (h_n, c_n) for LSTM.
``lengths`` (B,) marks right-padded sequences: padded outputs are zero, final states come from each
sequence's last real step, and the reversed direction starts at each sequence's own end.

Three paths compute the same numbers. ``"loop"`` runs each cell's ``step`` over time
(:mod:`rnnkit.nn.recurrence`): the reference. The two fast paths live in :mod:`rnnkit.nn.fast`,
and :mod:`rnnkit.nn.fast.dispatch` runs them: ``"fused"`` runs PyTorch's multi-layer kernel on
these parameters; ``"explicit"`` runs each layer and direction as one autograd node with a
hand-written backward (the GRU and LSTM time loops compiled where they could be built, in Python
otherwise). ``"auto"`` picks the fastest measured for the cell and device
(:func:`~rnnkit.nn.fast.dispatch.auto_path`).

``layer_norm`` (LSTM, :mod:`rnnkit.nn.ln_lstm`) and ``recurrent_dropout`` (variational dropout:
one (B, H) mask per layer, direction and batch, drawn at each training forward, on h_{t-1} where
it enters W_hh at every step) exist on the explicit and loop paths only; ``"auto"`` then picks
``"explicit"``, and ``path="fused"`` is refused by :class:`~rnnkit.nn.config.RecurrentConfig`.

>>> import torch
>>> lstm = LSTM(8, 16, num_layers=2, bidirectional=True)
>>> y, (h, c) = lstm(torch.randn(4, 10, 8), lengths=torch.tensor([10, 7, 3, 1]))
>>> y.shape, h.shape
(torch.Size([4, 10, 32]), torch.Size([4, 4, 16]))
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.nn.cell import RecurrentCell, State
from rnnkit.nn.config import RecurrentConfig
from rnnkit.nn.elman import ElmanCell
from rnnkit.nn.fast import dispatch
from rnnkit.nn.gru import GRUCell
from rnnkit.nn.ln_lstm import LayerNormLSTMCell
from rnnkit.nn.lstm import LSTMCell
from rnnkit.nn.recurrence import scan

TORCH_MODES = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU"}


def make_cell(config: RecurrentConfig, input_size: int) -> RecurrentCell:
    """The cell of ``config.cell`` reading ``input_size`` features."""
    H, bias = config.hidden_size, config.bias
    if config.cell == "lstm":
        kind = LayerNormLSTMCell if config.layer_norm else LSTMCell
        return kind(input_size, H, bias=bias, forget_bias=config.forget_bias)
    if config.cell == "gru":
        return GRUCell(input_size, H, bias=bias)
    return ElmanCell(input_size, H, bias=bias, nonlinearity=config.cell.removeprefix("rnn_"))


class StackedRecurrent(nn.Module):
    """L layers x D directions of one cell type; cell k = layer * D + direction."""

    def __init__(self, config: RecurrentConfig) -> None:
        super().__init__()
        self.config = config
        D = config.num_directions
        self.cells = nn.ModuleList(
            make_cell(config, config.input_size if layer == 0 else config.output_size)
            for layer in range(config.num_layers) for _ in range(D))

    # -- torch.nn-style attributes -------------------------------------------------------------
    input_size = property(lambda self: self.config.input_size)
    hidden_size = property(lambda self: self.config.hidden_size)
    num_layers = property(lambda self: self.config.num_layers)
    bidirectional = property(lambda self: self.config.bidirectional)
    output_size = property(lambda self: self.config.output_size)

    def extra_repr(self) -> str:
        return ", ".join(f"{f.name}={getattr(self.config, f.name)!r}"
                         for f in dataclasses.fields(self.config))

    @property
    def path(self) -> str:
        """The path ``forward`` takes now: ``config.path``, with ``"auto"`` resolved for this
        device and grad mode (:func:`~rnnkit.nn.fast.dispatch.auto_path`)."""
        if self.config.path != "auto":
            return self.config.path
        needs_explicit = self.config.layer_norm or (self.config.recurrent_dropout > 0.0
                                                    and self.training)
        return dispatch.auto_path(self.config.cell, self.cells[0].w_ih.device,
                                  grad_enabled=torch.is_grad_enabled(),
                                  needs_explicit=needs_explicit)

    def flat_weights(self) -> list[Tensor]:
        """[w_ih, w_hh, b_ih, b_hh] per cell, in ``torch.nn``'s order."""
        names = ("w_ih", "w_hh", "b_ih", "b_hh") if self.config.bias else ("w_ih", "w_hh")
        return [getattr(cell, n) for cell in self.cells for n in names]

    # -- state in torch.nn's layout ------------------------------------------------------------
    def _check_inputs(self, x: Tensor, lengths: Tensor | None) -> None:
        if x.dim() != 3 or x.shape[-1] != self.config.input_size:
            raise RnnkitError(f"expected input (batch, time, {self.config.input_size}), "
                              f"got shape {tuple(x.shape)}")
        if lengths is None:
            return
        B, T = x.shape[:2]
        if lengths.shape != (B,):
            raise RnnkitError(f"lengths must have shape ({B},), got {tuple(lengths.shape)}")
        if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise RnnkitError(f"lengths must lie in [1, {T}], got {lengths.tolist()}")

    def _state_tuple(self, state, x: Tensor) -> tuple[Tensor, ...]:
        """The state as (h,) or (h, c), each (L*D, B, H); zeros when ``state`` is None."""
        arity = 2 if self.config.cell == "lstm" else 1
        shape = (len(self.cells), x.shape[0], self.config.hidden_size)
        if state is None:
            zeros = x.new_zeros(shape)
            return (zeros,) * arity
        parts = tuple(state) if arity == 2 else (state,)
        if len(parts) != arity or any(p.shape != shape for p in parts):
            got = [tuple(p.shape) for p in parts]
            raise RnnkitError(f"initial state must be {arity} tensor(s) of shape {shape}, "
                              f"got {got}")
        return parts

    def _from_tuple(self, parts: tuple[Tensor, ...]):
        return parts if self.config.cell == "lstm" else parts[0]

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, x: Tensor, state=None, *, lengths: Tensor | None = None):
        self._check_inputs(x, lengths)
        hx = self._state_tuple(state, x)
        path = self.path
        if path == "loop":
            output, finals = self.run_layers(x, hx, lengths, scan)
        else:
            output, finals = dispatch.forward(path, self, x, hx, lengths)
        return output, self._from_tuple(finals)

    def run_layers(self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None,
                   run_direction) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Layer by layer, each direction by ``run_direction`` (``scan`` for the reference,
        :func:`~rnnkit.nn.fast.dispatch.explicit_scan`), directions concatenated, dropout between
        layers; returns (output (B, T, D*H), final states in ``hx``'s layout)."""
        D = self.config.num_directions
        finals: list[State] = []
        masks = self.recurrent_masks(x.shape[0], x)
        for layer in range(self.config.num_layers):
            outputs = []
            for direction in range(D):
                k = layer * D + direction
                cell_state = tuple(h[k] for h in hx) if len(hx) == 2 else hx[0][k]
                out, final = run_direction(self.cells[k], x, cell_state, lengths=lengths,
                                           reverse=direction == 1, recurrent_mask=masks[k])
                outputs.append(out)
                finals.append(final)
            x = torch.cat(outputs, dim=-1) if D == 2 else outputs[0]     # (B, T, D*H)
            if self.config.dropout and self.training and layer < self.config.num_layers - 1:
                x = F.dropout(x, self.config.dropout, training=True)
        if len(hx) == 2:
            stacked = (torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals]))
        else:
            stacked = (torch.stack(finals),)                             # (L*D, B, H)
        return x, stacked

    def recurrent_masks(self, batch_size: int, like: Tensor) -> list[Tensor | None]:
        """One variational dropout mask (B, H) per cell, kept units scaled by 1/(1 - p), drawn
        afresh at each training forward; Nones in eval or without recurrent dropout."""
        p = self.config.recurrent_dropout
        if not (p and self.training):
            return [None] * len(self.cells)
        shape = (batch_size, self.config.hidden_size)
        return [like.new_empty(shape).bernoulli_(1.0 - p).div_(1.0 - p) for _ in self.cells]

    # -- weights to and from torch.nn ------------------------------------------------------------
    @classmethod
    def from_torch(cls, module: nn.RNNBase, *, path: str = "auto") -> "StackedRecurrent":
        """An rnnkit layer holding a copy of a ``torch.nn`` RNN/LSTM/GRU's weights.

        rnnkit is batch-first; the weights do not depend on ``batch_first``.
        """
        modes = {v: k for k, v in TORCH_MODES.items()}
        if not isinstance(module, nn.RNNBase) or module.mode not in modes:
            raise RnnkitError(f"from_torch takes torch.nn.RNN/LSTM/GRU, not {type(module).__name__}")
        if getattr(module, "proj_size", 0):
            raise RnnkitError("torch.nn.LSTM with proj_size > 0 has no rnnkit equivalent")
        config = RecurrentConfig(
            cell=modes[module.mode], input_size=module.input_size, hidden_size=module.hidden_size,
            num_layers=module.num_layers, bias=module.bias, dropout=float(module.dropout),
            bidirectional=module.bidirectional, forget_bias=None, path=path)
        layer = _CLASSES[config.cell](config)
        with torch.no_grad():
            for mine, theirs in zip(layer.flat_weights(), module._flat_weights):
                mine.copy_(theirs)
        return layer.to(device=module._flat_weights[0].device)

    def to_torch(self) -> nn.RNNBase:
        """A batch-first ``torch.nn`` RNN/LSTM/GRU holding a copy of these weights."""
        c = self.config
        if c.layer_norm:
            raise RnnkitError("torch.nn has no layer-normalised LSTM to copy these weights into")
        kwargs = dict(num_layers=c.num_layers, bias=c.bias, dropout=c.dropout,
                      bidirectional=c.bidirectional, batch_first=True)
        if c.cell == "lstm":
            module = nn.LSTM(c.input_size, c.hidden_size, **kwargs)
        elif c.cell == "gru":
            module = nn.GRU(c.input_size, c.hidden_size, **kwargs)
        else:
            module = nn.RNN(c.input_size, c.hidden_size, nonlinearity=c.cell.removeprefix("rnn_"),
                            **kwargs)
        first = self.flat_weights()[0]
        module = module.to(device=first.device, dtype=first.dtype)
        with torch.no_grad():
            for theirs, mine in zip(module._flat_weights, self.flat_weights()):
                theirs.copy_(mine)
        return module


class RNN(StackedRecurrent):
    """Elman RNN layers: ``h_t = tanh|relu(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``."""

    def __init__(self, input_size: int | RecurrentConfig, hidden_size: int = 0,
                 num_layers: int = 1, bias: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, nonlinearity: str = "tanh", *,
                 path: str = "auto", recurrent_dropout: float = 0.0) -> None:
        if isinstance(input_size, RecurrentConfig):
            super().__init__(input_size)
            return
        if nonlinearity not in ("tanh", "relu"):
            raise RnnkitError(f"nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__(RecurrentConfig(f"rnn_{nonlinearity}", input_size, hidden_size,
                                         num_layers, bias, dropout, bidirectional, path=path,
                                         recurrent_dropout=recurrent_dropout))


class LSTM(StackedRecurrent):
    """LSTM layers (gates i, f, g, o; state (h_n, c_n)); forget-gate bias starts at 1."""

    def __init__(self, input_size: int | RecurrentConfig, hidden_size: int = 0,
                 num_layers: int = 1, bias: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, *, forget_bias: float | None = 1.0,
                 path: str = "auto", layer_norm: bool = False,
                 recurrent_dropout: float = 0.0) -> None:
        if isinstance(input_size, RecurrentConfig):
            super().__init__(input_size)
            return
        super().__init__(RecurrentConfig("lstm", input_size, hidden_size, num_layers, bias,
                                         dropout, bidirectional, forget_bias, path, layer_norm,
                                         recurrent_dropout))


class GRU(StackedRecurrent):
    """GRU layers in ``torch.nn``'s formulation (gates r, z, n)."""

    def __init__(self, input_size: int | RecurrentConfig, hidden_size: int = 0,
                 num_layers: int = 1, bias: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, *, path: str = "auto",
                 recurrent_dropout: float = 0.0) -> None:
        if isinstance(input_size, RecurrentConfig):
            super().__init__(input_size)
            return
        super().__init__(RecurrentConfig("gru", input_size, hidden_size, num_layers, bias,
                                         dropout, bidirectional, path=path,
                                         recurrent_dropout=recurrent_dropout))


_CLASSES = {"lstm": LSTM, "gru": GRU, "rnn_tanh": RNN, "rnn_relu": RNN}


def build_recurrent(config: RecurrentConfig) -> StackedRecurrent:
    """The layer class of ``config.cell`` built from ``config``."""
    return _CLASSES[config.cell](config)


def from_torch(module: nn.RNNBase, *, path: str = "auto") -> StackedRecurrent:
    """An rnnkit ``RNN``/``LSTM``/``GRU`` with a copy of a ``torch.nn`` module's weights."""
    return StackedRecurrent.from_torch(module, path=path)
