"""Stacked, optionally bidirectional recurrent layers: ``torch.nn``'s RNN, LSTM and GRU.

``RNN``, ``LSTM`` and ``GRU`` are ``torch.nn``'s classes, so that swapping the import is the whole
port: the same positional arguments and defaults (``batch_first=False``, ``proj_size`` for the
LSTM, ``device``, ``dtype``), the same parameters under the same names (``weight_ih_l0``,
``bias_hh_l1_reverse``, ...; the state_dicts load into each other), the same initialisation
(a seed gives ``torch.nn``'s weights), attributes (``mode``, ``all_weights``, ``dropout`` that can
be changed after construction, ``flatten_parameters()``) and call::

    forward(input, hx=None) -> (output, h_n)          # (h_n, c_n) for the LSTM

with input (T, B, I), (B, T, I) when ``batch_first``, unbatched (T, I), or a ``PackedSequence``
(then the output is one too), and ``torch.nn``'s errors for wrong shapes. rnnkit's additions
are keyword-only:

- ``lengths=`` (B,) with a padded tensor (a tensor or a list): padded outputs are zero, final
  states come from each sequence's last real step, the reversed direction starts at each
  sequence's own end (the numbers of a ``PackedSequence``, without packing);
- ``path=``, ``layer_norm=`` and ``recurrent_dropout=`` (below), ``forget_bias=`` (LSTM: 1.0 starts
  the forget gates remembering; rnnkit's models use it).

Inside, rnnkit is batch-first: a ``batch_first=False`` input is transposed on the way in and
out, except on the fused path, whose kernel reads either layout.

Three paths compute the same numbers. ``"loop"`` runs each cell's ``step`` over time
(:mod:`rnnkit.nn.recurrence`): the reference. The two fast paths live in :mod:`rnnkit.nn.fast`:
``"fused"`` runs PyTorch's multi-layer kernel on these parameters (what ``torch.nn`` runs);
``"explicit"`` runs each layer and direction as one autograd node with a hand-written backward
(the time loops compiled where they could be built, in Python otherwise). ``"auto"`` picks the
fastest measured for the cell and device (:func:`~rnnkit.nn.fast.dispatch.auto_path`), and the
fused path (or the loop, for what the kernels lack) while ``torch.compile`` or
``torch.jit.trace`` trace the layer, and ``"scan"`` while ``torch.export`` does (one traced loop
over any number of steps, with lengths: :mod:`rnnkit.nn.traced`; ``"explicit"`` becomes it
too); ``torch.jit.script`` scripts the fused path on the same parameters
(:meth:`StackedRecurrent.__prepare_scriptable__`).

``layer_norm`` (LSTM, :mod:`rnnkit.nn.ln_lstm`) and ``recurrent_dropout`` (variational dropout:
one (B, H) mask per layer, direction and batch, drawn at each training forward, on h_{t-1} where
it enters W_hh at every step) exist on the explicit and loop paths only; ``"auto"`` then picks
``"explicit"``, and ``path="fused"`` is refused by :class:`~rnnkit.nn.config.RecurrentConfig`.

**Parameters and cells.** The parameters belong to the layer, under ``torch.nn``'s names; the
cells (:attr:`StackedRecurrent.cells`, cell k = layer * D + direction) hold the equations and are
handed the layer's current parameters whenever they are asked for, so ``state_dict``,
``named_parameters``, ``torch.func.functional_call`` and a replaced parameter all see one set.
A state_dict saved before the layers took ``torch.nn``'s names (``cells.0.w_ih``, ...) loads.

>>> import torch
>>> lstm = LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)
>>> y, (h, c) = lstm(torch.randn(4, 10, 8), lengths=[10, 7, 3, 1])
>>> y.shape, h.shape
(torch.Size([4, 10, 32]), torch.Size([4, 4, 16]))
"""

from __future__ import annotations

import dataclasses
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.errors import RnnkitError
from rnnkit.nn.cell import RecurrentCell, State
from rnnkit.nn.config import RecurrentConfig
from rnnkit.nn.elman import ElmanCell
from rnnkit.nn.fast import dispatch, scripted
from rnnkit.nn.gru import GRUCell
from rnnkit.nn.layer_dropout import between_layers_dropout, packed_between_layers_dropout
from rnnkit.nn.layer_inputs import LayerInputs
from rnnkit.nn.torch_conversion import TORCH_MODES, TorchConversion
from rnnkit.nn.ln_lstm import LayerNormLSTMCell
from rnnkit.nn.lstm import LSTMCell
from rnnkit.nn.recurrence import scan
from rnnkit.nn.traced import is_exporting, traced_scan

# The cells' parameter names before they took torch.nn's (state_dicts saved then still load).
OLD_NAMES = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


def make_cell(config: RecurrentConfig, input_size: int, factory: dict) -> RecurrentCell:
    """The cell of ``config.cell`` reading ``input_size`` features (initialised)."""
    H, bias = config.hidden_size, config.bias
    if config.cell == "lstm" and config.layer_norm:
        return LayerNormLSTMCell(input_size, H, bias, **factory, forget_bias=config.forget_bias)
    if config.cell == "lstm":
        return LSTMCell(input_size, H, bias, **factory, forget_bias=config.forget_bias,
                        proj_size=config.proj_size)
    if config.cell == "gru":
        return GRUCell(input_size, H, bias, **factory)
    return ElmanCell(input_size, H, bias, config.cell.removeprefix("rnn_"), **factory)


class StackedRecurrent(LayerInputs, TorchConversion, nn.Module):
    """L layers x D directions of one cell type, built from a :class:`RecurrentConfig`
    (:meth:`from_config`); ``RNN``, ``LSTM`` and ``GRU`` give it ``torch.nn``'s constructors."""

    def __init__(self, config: RecurrentConfig, *, device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        factory = {"device": device, "dtype": dtype}
        D = config.num_directions
        self._cells: list[RecurrentCell] = []
        self._cell_names: list[list[tuple[str, str]]] = []   # (cell's name, layer's name)
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(config.num_layers):
            for direction in range(D):
                # each cell initialises its own parameters in turn: torch.nn's order of draws
                cell = make_cell(config, config.input_size if layer == 0 else config.output_size,
                                 factory)
                suffix = "_reverse" if direction == 1 else ""
                names = [(name, f"{name}_l{layer}{suffix}") for name, _ in
                         cell.named_parameters()]
                for mine, theirs in names:
                    setattr(self, theirs, getattr(cell, mine))
                torch_names = [theirs for mine, theirs in names if mine in TORCH_PARAMETERS]
                self._cells.append(cell)
                self._cell_names.append(names)
                self._flat_weights_names.extend(torch_names)
                self._all_weights.append(torch_names)

    @classmethod
    def from_config(cls, config: RecurrentConfig, *, device=None,
                    dtype=None) -> StackedRecurrent:
        """The layer ``config`` describes, as an instance of ``cls``."""
        layer = cls.__new__(cls)
        StackedRecurrent.__init__(layer, config, device=device, dtype=dtype)
        return layer

    # -- torch.nn's attributes -------------------------------------------------------------------
    input_size = property(lambda self: self.config.input_size)
    hidden_size = property(lambda self: self.config.hidden_size)
    num_layers = property(lambda self: self.config.num_layers)
    bias = property(lambda self: self.config.bias)
    bidirectional = property(lambda self: self.config.bidirectional)
    proj_size = property(lambda self: self.config.proj_size)
    output_size = property(lambda self: self.config.output_size)
    mode = property(lambda self: TORCH_MODES[self.config.cell])

    def _replace(self, **changes) -> None:
        self.config = dataclasses.replace(self.config, **changes)

    @property
    def dropout(self) -> float:
        """Dropout on every layer's output but the last's, in training; can be set."""
        return self.config.dropout

    @dropout.setter
    def dropout(self, value: float) -> None:
        self._replace(dropout=float(value))

    @property
    def batch_first(self) -> bool:
        """Input and output (B, T, C) rather than (T, B, C); can be set."""
        return self.config.batch_first

    @batch_first.setter
    def batch_first(self, value: bool) -> None:
        self._replace(batch_first=bool(value))

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """``torch.nn``'s parameters per layer and direction: [[weight_ih_l0, ...], ...]."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op, as ``torch.nn``'s is off cuDNN: the parameters stay separate tensors."""

    def flat_weights(self) -> list[Tensor]:
        """[weight_ih, weight_hh, bias_ih, bias_hh(, weight_hr)] per layer and direction, in
        ``torch.nn``'s order: what the fused kernels take."""
        return self._flat_weights

    @property
    def cells(self) -> list[RecurrentCell]:
        """The cells, k = layer * D + direction, each holding this layer's current
        parameters (handed to it now: a parameter may have been replaced since)."""
        for cell, names in zip(self._cells, self._cell_names):
            held = cell._parameters
            for mine, theirs in names:
                held[mine] = getattr(self, theirs)
        return self._cells

    def __getstate__(self) -> dict:
        """For pickling and ``copy.deepcopy``: the cells first take this layer's parameters
        again, so nothing a trace left in them (torch.export's fake tensors) is copied."""
        self.cells
        return self.__dict__.copy()

    def reset_parameters(self) -> None:
        """``torch.nn``'s initialisation (and the forget-gate bias when it is set), in
        ``torch.nn``'s order."""
        for cell in self.cells:
            cell.reset_parameters()

    def extra_repr(self) -> str:
        c = self.config
        s = f"{c.input_size}, {c.hidden_size}"
        s += f", proj_size={c.proj_size}" if c.proj_size else ""
        s += f", num_layers={c.num_layers}" if c.num_layers != 1 else ""
        s += f", bias={c.bias}" if c.bias is not True else ""
        s += f", batch_first={c.batch_first}" if c.batch_first else ""
        s += f", dropout={c.dropout}" if c.dropout else ""
        s += f", bidirectional={c.bidirectional}" if c.bidirectional else ""
        for name in ("forget_bias", "path", "layer_norm", "recurrent_dropout"):
            value = getattr(c, name)
            if value != RecurrentConfig.__dataclass_fields__[name].default:
                s += f", {name}={value!r}"
        return s

    @property
    def path(self) -> str:
        """The path ``forward`` takes now: ``config.path``, with ``"auto"`` resolved for this
        device and grad mode (:func:`~rnnkit.nn.fast.dispatch.auto_path`)."""
        if self.config.path == "explicit" and is_exporting():
            return "scan"                                # the explicit loops cannot be traced
        if self.config.path != "auto":
            return self.config.path
        needs_explicit = self.config.layer_norm or (self.config.recurrent_dropout > 0.0
                                                    and self.training)
        return dispatch.auto_path(self.config.cell, self.weight_ih_l0.device,
                                  grad_enabled=torch.is_grad_enabled(),
                                  needs_explicit=needs_explicit)

    # -- loading state_dicts saved under the old names -------------------------------------------
    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        for k, names in enumerate(self._cell_names):
            for mine, theirs in names:
                old = f"{prefix}cells.{k}.{OLD_NAME_OF.get(mine, mine)}"
                if old in state_dict and prefix + theirs not in state_dict:
                    state_dict[prefix + theirs] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def old_names(self, prefix: str = "") -> dict[str, str]:
        """{state_dict key: the key it had before the layers took ``torch.nn``'s names}."""
        return {prefix + theirs: f"{prefix}cells.{k}.{OLD_NAME_OF.get(mine, mine)}"
                for k, names in enumerate(self._cell_names) for mine, theirs in names}

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, input: Tensor | PackedSequence, hx: State | None = None, *,
                lengths: Tensor | list[int] | None = None):
        """``torch.nn``'s call; see the module docstring. Returns (output, h_n) or, for the
        LSTM, (output, (h_n, c_n))."""
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise RnnkitError("a PackedSequence carries its lengths; pass lengths= with a "
                                  "padded tensor only")
            return self._forward_packed(input, hx)
        c = self.config
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D instead")
        batched = input.dim() == 3
        batch_dim = 0 if c.batch_first else 1
        parts = self._state_parts(hx, 3 if batched else 2)
        if not batched:
            if lengths is not None:
                raise RnnkitError("lengths= needs a batch: unbatched input is one sequence")
            input = input.unsqueeze(batch_dim)
            parts = None if parts is None else tuple(p.unsqueeze(1) for p in parts)
        batch = input.shape[batch_dim]
        self._check_input(input, 1 if c.batch_first else 0)
        hx = self._state_tuple(parts, batch, input)
        lengths = self._check_lengths(lengths, batch, input.shape[1 - batch_dim])
        output, finals = self._run(input, hx, lengths)
        if not batched:
            output = output.squeeze(batch_dim)
            finals = tuple(f.squeeze(1) for f in finals)
        return output, self._from_tuple(finals)

    def _run(self, input: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None
             ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """input in the layer's layout, hx (h0,) or (h0, c0) -> (output in that layout, finals
        in hx's layout)."""
        path = self.path
        if path == "fused":                              # the kernel reads either layout
            return dispatch.fused(self, input, hx, lengths)
        batch_first = self.config.batch_first
        x = input if batch_first else input.transpose(0, 1)           # (B, T, I)
        output, finals = self.run_layers(x, hx, lengths, RUN_DIRECTION[path])  # (B, T, D*H)
        if not batch_first:
            output = output.transpose(0, 1).contiguous()             # (T, B, D*H)
        return output, finals

    def _forward_packed(self, packed: PackedSequence, hx: State | None):
        """A PackedSequence in, one out with the same order; states in the caller's order."""
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        batch = int(batch_sizes[0])
        self._check_input(data, None)
        hx = self._state_tuple(self._state_parts(hx, 3), batch, data)
        if sorted_indices is not None:                   # the states in the data's order
            hx = tuple(h.index_select(1, sorted_indices) for h in hx)
        if self.path == "fused":
            out, finals = dispatch.fused_packed(self, data, batch_sizes, hx)
        else:                                            # padded, rows longest first
            x, lengths = pad_packed_sequence(PackedSequence(data, batch_sizes), batch_first=True)
            drop = partial(packed_between_layers_dropout, lengths=lengths)
            output, finals = self.run_layers(x, hx, lengths, RUN_DIRECTION[self.path],
                                             dropout=drop)                 # (B, T, D*H)
            out = pack_padded_sequence(output, lengths, batch_first=True).data
        if unsorted_indices is not None:
            finals = tuple(h.index_select(1, unsorted_indices) for h in finals)
        return (PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices),
                self._from_tuple(finals))

    # -- checks, with torch.nn's messages --------------------------------------------------------
    def run_layers(self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None,
                   run_direction, *, dropout=None) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Layer by layer, each direction by ``run_direction`` (``scan`` for the reference,
        :func:`~rnnkit.nn.fast.dispatch.explicit_scan`), directions concatenated, dropout between
        layers (``dropout(x, p)``, :func:`between_layers_dropout` unless given); x (B, T, I) ->
        (output (B, T, D*H), final states in ``hx``'s layout)."""
        dropout = dropout or between_layers_dropout
        D = self.config.num_directions
        cells = self.cells
        finals: list[State] = []
        masks = self.recurrent_masks(x.shape[0], x)
        for layer in range(self.config.num_layers):
            outputs = []
            for direction in range(D):
                k = layer * D + direction
                cell_state = tuple(h[k] for h in hx) if len(hx) == 2 else hx[0][k]
                out, final = run_direction(cells[k], x, cell_state, lengths=lengths,
                                           reverse=direction == 1, recurrent_mask=masks[k])
                outputs.append(out)
                finals.append(final)
            x = torch.cat(outputs, dim=-1) if D == 2 else outputs[0]     # (B, T, D*H)
            if self.config.dropout and self.training and layer < self.config.num_layers - 1:
                x = dropout(x, self.config.dropout)
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
            return [None] * len(self._cells)
        shape = (batch_size, self.config.hidden_size)
        return [like.new_empty(shape).bernoulli_(1.0 - p).div_(1.0 - p) for _ in self._cells]

    def single_layer(self, layer: int) -> StackedRecurrent:
        """A one-layer stack sharing layer ``layer``'s parameters (not copies) with this one."""
        c = self.config
        D = c.num_directions
        config = dataclasses.replace(c, input_size=c.input_size if layer == 0 else c.output_size,
                                     num_layers=1, dropout=0.0, forget_bias=None)
        with torch.device("meta"):                       # no storage, no initialisation cost
            view = type(self).from_config(config)
        for d in range(D):
            for (_, theirs), (_, mine) in zip(self._cell_names[layer * D + d],
                                              view._cell_names[d]):
                setattr(view, mine, getattr(self, theirs))
        return view.train(self.training)

    # -- torch.nn's own module on these parameters -----------------------------------------------
    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles in this layer's place: the fused path on these very
        parameters, written in TorchScript (:mod:`rnnkit.nn.fast.scripted`; TorchScript cannot
        compile rnnkit's dispatch). Note that ``torch.jit.script(model)`` also puts it in place
        of this layer inside ``model`` itself, as it does for any module with this hook."""
        c = self.config
        if c.needs_explicit:
            raise RnnkitError("torch.jit.script runs PyTorch's fused kernels, which have no "
                              "layer norm or recurrent dropout; use torch.export or "
                              "torch.compile for this layer")
        kind = scripted.ScriptableLSTM if c.cell == "lstm" else scripted.ScriptableRecurrent
        return kind(self)


# How each path other than "fused" runs one layer and direction (scan's contract).
RUN_DIRECTION = {"loop": scan, "explicit": dispatch.explicit_scan, "scan": traced_scan}

TORCH_PARAMETERS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
OLD_NAME_OF = {new: old for old, new in OLD_NAMES.items()}


def from_torch(module: nn.RNNBase, *, path: str = "auto") -> StackedRecurrent:
    """An rnnkit ``RNN``/``LSTM``/``GRU`` with a copy of a ``torch.nn`` module's weights."""
    return StackedRecurrent.from_torch(module, path=path)
