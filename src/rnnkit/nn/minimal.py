"""What minGRU and minLSTM share: a cell whose gates read x_t alone, and its stacked layer.

Feng et al. 2024, "Were RNNs All We Needed?" (arXiv 2410.01201), section 3: drop the gates'
dependence on h_{t-1} and the output squashing, and a GRU or LSTM becomes the interpolation

.. math::
    h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot c_t,

with z_t in (0, 1) and the candidate c_t > 0 functions of x_t only. A cell says how its one fused
input projection (G*H, I) becomes (z, c) (:meth:`MinimalCell.gates`) and their logs
(:meth:`MinimalCell.log_gates`); everything else is here. Over a whole sequence the projection
is one matrix product, and the recurrence runs in one of two modes
(:mod:`rnnkit.nn.linear_recurrence`):

- ``"sequential"``: :func:`~rnnkit.nn.linear_recurrence.lerp_scan`, one ``torch.lerp`` per step
  and a reverse-scan backward. The fastest on CPU, well ahead of ``torch.nn.GRU`` in training
  (``benchmarks/mingru_speed.py``; docs/benchmarks.md).
- ``"parallel"``: :func:`~rnnkit.nn.linear_recurrence.log_space_scan`, Heinsen's scan in log
  space, meant for GPUs; on CPU it trains slower than the sequential mode (``logcumsumexp``
  dominates).
- ``"auto"``: sequential on CPU, parallel on any other device.

While ``torch.export`` traces the layer, whatever the mode, the step ``lerp`` runs in one traced
loop over any number of steps (:mod:`rnnkit.nn.traced`).

Right-padded batches: with ``lengths`` (B,), outputs at t >= lengths[b] are zero and the final
state is h at each sequence's last real step. The recurrence is causal, so the padded steps,
computed like any others, never reach a real one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.nn.config import check_layer_sizes
from rnnkit.nn.linear_recurrence import lerp_scan, log_space_scan
from rnnkit.nn.traced import is_exporting, traced_scan_projected

MINIMAL_CELLS = ("mingru", "minlstm")
MODES = ("auto", "sequential", "parallel")


def resolve_mode(mode: str, device: torch.device) -> str:
    """``mode`` with ``"auto"`` replaced by ``"sequential"`` on CPU, ``"parallel"`` elsewhere."""
    if mode not in MODES:
        raise RnnkitError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "auto":
        return "sequential" if device.type == "cpu" else "parallel"
    return mode


@dataclass(frozen=True)
class MinimalConfig:
    """What a stacked minGRU or minLSTM layer is made of."""

    cell: str                 # one of MINIMAL_CELLS: "mingru", "minlstm"
    input_size: int           # I: features per timestep of the input
    hidden_size: int          # H: state size of every cell
    num_layers: int = 1       # L: cells stacked in depth
    bias: bool = True         # b_ih in every cell
    dropout: float = 0.0      # on the outputs of every layer but the last, in training
    mode: str = "auto"        # "sequential", "parallel", or "auto" (by device; see module doc)

    def __post_init__(self) -> None:
        if self.cell not in MINIMAL_CELLS:
            raise RnnkitError(f"unknown cell {self.cell!r}; choose one of "
                              f"{', '.join(MINIMAL_CELLS)}")
        check_layer_sizes(self)
        if self.mode not in MODES:
            raise RnnkitError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")


def mask_padded(h: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """States h (B, T, H) -> (outputs zero past each length, h at each last real step (B, H))."""
    B, T, _ = h.shape
    lengths = lengths.to(h.device)
    valid = (torch.arange(T, device=h.device)[None, :] < lengths[:, None])[..., None]  # (B, T, 1)
    last = h[torch.arange(B, device=h.device), lengths - 1]                            # (B, H)
    return torch.where(valid, h, 0.0), last


class MinimalCell(nn.Module):
    """Base of the minimal cells: one fused input projection, ``step``, and the sequence forward.

    Subclasses set ``num_gates`` and implement :meth:`gates` and :meth:`log_gates`. There are no
    recurrent weights; ``w_ih`` (G*H, I) and ``b_ih`` (G*H,) start as ``torch.nn.Linear``'s,
    U(-1/sqrt(I), 1/sqrt(I)).
    """

    num_gates: ClassVar[int]

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        gh = self.num_gates * hidden_size
        self.w_ih = nn.Parameter(torch.empty(gh, input_size))       # (G*H, I)
        self.b_ih = nn.Parameter(torch.empty(gh)) if bias else None  # (G*H,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.input_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.b_ih is not None}"

    def project_input(self, x: Tensor) -> Tensor:
        """``x @ w_ih.T + b_ih``: (..., I) -> (..., G*H). One product for all timesteps."""
        return F.linear(x, self.w_ih, self.b_ih)

    def gates(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        """Projected input (..., G*H) -> (z, c), each (..., H): candidate weight, candidate."""
        raise NotImplementedError

    def log_gates(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        """Projected input (..., G*H) -> (log(1 - z), log(z) + log(c)), computed stably."""
        raise NotImplementedError

    def initial_state(self, batch_size: int, *, dtype: torch.dtype,
                      device: torch.device) -> Tensor:
        """The zero state h (B, H)."""
        return torch.zeros(batch_size, self.hidden_size, dtype=dtype, device=device)

    def step(self, x_t: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """One timestep, O(1) in the sequence length: x_t (B, I), h (B, H) -> (y_t, h), y_t = h."""
        z, c = self.gates(self.project_input(x_t))      # each (B, H)
        h = torch.lerp(h, c, z)                          # (1 - z) * h + z * c
        return h, h

    def forward(self, x: Tensor, h0: Tensor | None = None, *, mode: str = "auto",
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (B, T, I), h0 (B, H) or None for zeros -> (outputs (B, T, H), final state (B, H))."""
        if h0 is None:
            h0 = self.initial_state(x.shape[0], dtype=x.dtype, device=x.device)
        xp = self.project_input(x)                       # (B, T, G*H)
        if is_exporting():                               # one traced loop over any T
            h, _ = traced_scan_projected(_lerp_step, self.gates(xp), h0)
        elif resolve_mode(mode, x.device) == "parallel":
            h = log_space_scan(*self.log_gates(xp), h0)
        else:
            h = lerp_scan(*self.gates(xp), h0)           # (B, T, H)
        if lengths is None:
            return h, h[:, -1]
        return mask_padded(h, lengths)


def _lerp_step(zc_t: tuple[Tensor, Tensor], h: Tensor) -> tuple[Tensor, Tensor]:
    """h_t = lerp(h_{t-1}, c_t, z_t), the step of both cells; zc_t = (z_t, c_t), each (B, H)."""
    h = torch.lerp(h, zc_t[1], zc_t[0])
    return h, h


class MinimalRecurrent(nn.Module):
    """L stacked minimal cells, batch-first, with ``torch.nn.GRU``'s call interface::

        forward(x (B, T, I), state=None, *, lengths=None) -> (output (B, T, H), h_n (L, B, H))

    Subclasses set ``cell_name`` and ``cell_class``.
    """

    cell_name: ClassVar[str]
    cell_class: ClassVar[type[MinimalCell]]

    def __init__(self, input_size: int | MinimalConfig, hidden_size: int = 0,
                 num_layers: int = 1, bias: bool = True, dropout: float = 0.0, *,
                 mode: str = "auto") -> None:
        super().__init__()
        if isinstance(input_size, MinimalConfig):
            config = input_size
            if config.cell != self.cell_name:
                raise RnnkitError(f"{type(self).__name__} needs cell={self.cell_name!r}, "
                                  f"got {config.cell!r}")
        else:
            config = MinimalConfig(self.cell_name, input_size, hidden_size, num_layers, bias,
                                   dropout, mode)
        self.config = config
        self.cells = nn.ModuleList(
            self.cell_class(config.input_size if layer == 0 else config.hidden_size,
                            config.hidden_size, bias=config.bias)
            for layer in range(config.num_layers))

    # -- torch.nn-style attributes -------------------------------------------------------------
    input_size = property(lambda self: self.config.input_size)
    hidden_size = property(lambda self: self.config.hidden_size)
    num_layers = property(lambda self: self.config.num_layers)
    output_size = property(lambda self: self.config.hidden_size)

    def extra_repr(self) -> str:
        return ", ".join(f"{f.name}={getattr(self.config, f.name)!r}"
                         for f in dataclasses.fields(self.config) if f.name != "cell")

    def _check_inputs(self, x: Tensor, state: Tensor | None, lengths: Tensor | None) -> None:
        if x.dim() != 3 or x.shape[-1] != self.config.input_size:
            raise RnnkitError(f"expected input (batch, time, {self.config.input_size}), "
                              f"got shape {tuple(x.shape)}")
        B, T = x.shape[:2]
        if T == 0:
            raise RnnkitError("expected at least one timestep, got an empty sequence")
        shape = (self.config.num_layers, B, self.config.hidden_size)
        if state is not None and state.shape != shape:
            raise RnnkitError(f"initial state must have shape {shape}, got {tuple(state.shape)}")
        if lengths is None:
            return
        if lengths.shape != (B,):
            raise RnnkitError(f"lengths must have shape ({B},), got {tuple(lengths.shape)}")
        if lengths.numel() and not is_exporting() and (
                int(lengths.min()) < 1 or int(lengths.max()) > T):     # values: not traced
            raise RnnkitError(f"lengths must lie in [1, {T}], got {lengths.tolist()}")

    def forward(self, x: Tensor, state: Tensor | None = None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._check_inputs(x, state, lengths)
        finals = []
        for layer, cell in enumerate(self.cells):
            h0 = None if state is None else state[layer]
            x, h_n = cell(x, h0, mode=self.config.mode, lengths=lengths)     # (B, T, H)
            finals.append(h_n)
            if self.config.dropout and self.training and layer < self.config.num_layers - 1:
                x = F.dropout(x, self.config.dropout, training=True)
        return x, torch.stack(finals)                    # (L, B, H)
