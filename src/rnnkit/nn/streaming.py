"""Step a stacked recurrent layer one timestep at a time over a batch of independent streams.

Serving a recurrent model token by token calls the layer with T=1 per token, and every call of a
fused kernel pays its set-up again (``torch.nn.LSTM`` with T=1 rebuilds its oneDNN primitive and
reorders the weights each time). :class:`Streamer` keeps everything that does not change between
steps: it fuses each layer's two products into ONE, ``[x_t, h_{t-1}] @ W^T + b``, over weights
concatenated once, and keeps the input and every layer's state side by side in one buffer
``z`` (B, I + L*H)::

    z = [ x_t | h^0 | h^1 | ... | h^{L-1} ]

so layer l reads the contiguous columns [its input | its own state] (its input being layer l-1's
new state) and writes its new state in place. Each step runs the cells' update equations
(:mod:`rnnkit.nn.lstm`, :mod:`rnnkit.nn.gru`, :mod:`rnnkit.nn.elman`) with ``torch.addmm`` and
in-place ops into buffers allocated once, under ``torch.inference_mode``; the only allocation per
step is the returned output.

Gate layouts of the fused step weights (columns of the product):

- LSTM: i, f, o, g (reordered from torch's i, f, g, o so that one sigmoid covers three gates);
  bias b_ih + b_hh (the cells' bias_ih + bias_hh).
- GRU: x^r + a^r, x^z + a^z, x^n, a^n, the last two from block-diagonal weights, because the
  reset gate multiplies a^n = W_hn h + b_hn alone; bias [b_ir + b_hr, b_iz + b_hz, b_in, b_hn].
- Elman: one block; bias b_ih + b_hh.

The weights are read from the layer when the Streamer is built and again whenever a parameter of
the layer has changed in place since (an optimizer step, ``load_state_dict``), so stepping uses
current weights.

>>> import torch
>>> from rnnkit.nn import LSTM
>>> layer = LSTM(3, 5, num_layers=2)
>>> stream = Streamer(layer, batch_size=4)
>>> y = stream.step(torch.randn(4, 3))
>>> y.shape
torch.Size([4, 5])
>>> stream.reset(torch.tensor([True, False, False, True]))    # streams 0 and 3 start over
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.nn.cell import RecurrentCell
from rnnkit.nn.layers import StackedRecurrent

# Columns of each layer's step product, in units of H, and how many of them go through a sigmoid.
STEP_GATES = {"lstm": 4, "gru": 4, "rnn_tanh": 1, "rnn_relu": 1}
SIGMOID_GATES = {"lstm": 3, "gru": 2, "rnn_tanh": 0, "rnn_relu": 0}

# Elman's phi, writing into a given tensor: h = phi(gates).
ELMAN_UPDATES = {
    "rnn_tanh": lambda gates, out: torch.tanh(gates, out=out),
    "rnn_relu": lambda gates, out: torch.clamp_min(gates, 0.0, out=out),
}


def _step_weights(kind: str, cell: RecurrentCell) -> tuple[Tensor, Tensor]:
    """The fused step product of one cell: W (I + H, G'*H) and b (G'*H,); see the module doc."""
    H, I = cell.hidden_size, cell.input_size
    w_ih, w_hh = cell.weight_ih.detach(), cell.weight_hh.detach()
    zeros = w_ih.new_zeros(w_ih.shape[0])
    b_ih = zeros if cell.bias_ih is None else cell.bias_ih.detach()
    b_hh = zeros if cell.bias_hh is None else cell.bias_hh.detach()
    if kind == "gru":
        weight = w_ih.new_zeros(4 * H, I + H)
        weight[:2 * H, :I], weight[:2 * H, I:] = w_ih[:2 * H], w_hh[:2 * H]     # r, z
        weight[2 * H:3 * H, :I] = w_ih[2 * H:]                                  # x^n
        weight[3 * H:, I:] = w_hh[2 * H:]                                       # a^n
        bias = torch.cat([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:], b_hh[2 * H:]])
    else:
        weight, bias = torch.cat([w_ih, w_hh], dim=1), b_ih + b_hh           # (G*H, I + H)
        if kind == "lstm":                               # rows i, f, g, o -> i, f, o, g
            weight, bias = (torch.cat([t[:2 * H], t[3 * H:], t[2 * H:3 * H]])
                            for t in (weight, bias))
    return weight.t().contiguous(), bias.contiguous()    # (I + H, G'*H), (G'*H,)


class Streamer:
    """Carries the state of ``batch_size`` independent streams through a unidirectional
    :class:`~rnnkit.nn.layers.StackedRecurrent`, one timestep per :meth:`step`.

    ``step(x_t)`` takes x_t (B, I) and returns the last layer's output y_t (B, H); stepping T
    times gives the numbers of ``layer(x)`` over the whole sequence (in eval mode: no dropout).
    ``reset(mask)`` zeroes the state of the streams where mask (B,) is True (all without mask).
    """

    def __init__(self, layer: StackedRecurrent, batch_size: int) -> None:
        config = layer.config
        if config.bidirectional:
            raise RnnkitError("Streamer steps a unidirectional layer only: the reverse pass of a "
                              "bidirectional layer needs the whole sequence before its first "
                              "output")
        if config.layer_norm:
            raise RnnkitError("Streamer has no layer-normalised LSTM step; step the cells "
                              "(LayerNormLSTMCell.step) or use a layer without layer_norm")
        if config.proj_size:
            raise RnnkitError("Streamer has no projected LSTM step; step the cells "
                              "(LSTMCell.step) or use a layer without proj_size")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise RnnkitError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.layer, self.batch_size = layer, batch_size
        self.kind = config.cell
        first = layer.flat_weights()[0]
        I, H, L = config.input_size, config.hidden_size, config.num_layers
        with torch.inference_mode():
            self.z = first.new_zeros(batch_size, I + L * H)          # [x | h^0 | ... | h^L-1]
            self.gates = [first.new_empty(batch_size, STEP_GATES[self.kind] * H)
                          for _ in range(L)]
            cells = L if self.kind == "lstm" else 0
            self.c = [first.new_zeros(batch_size, H) for _ in range(cells)]  # LSTM cell states
            self.scratch = first.new_empty(batch_size, H)
        # Layer l's product reads z[:, start:end], [its input | its state]; views made once.
        spans = [(0 if l == 0 else I + (l - 1) * H, I + (l + 1) * H) for l in range(L)]
        self.reads = [self.z[:, start:end] for start, end in spans]            # (B, I_l + H)
        self.states = [self.z[:, end - H:end] for _, end in spans]             # (B, H)
        self.gate_views = [g.split(H, dim=1) for g in self.gates]              # G' x (B, H)
        self.sigmoid_views = [g[:, :SIGMOID_GATES[self.kind] * H] for g in self.gates]
        self.input_size, self.hidden_size = I, H
        self._elman_update = ELMAN_UPDATES.get(self.kind)
        self._params = list(layer.parameters())
        self._versions: list[int] = []
        self._refresh_weights()

    # -- state -----------------------------------------------------------------------------------
    @property
    def state(self):
        """A copy of the state in ``torch.nn``'s layout: h_n (L, B, H), or (h_n, c_n) for LSTM."""
        h = torch.stack(self.states)
        return (h, torch.stack(self.c)) if self.kind == "lstm" else h

    def reset(self, mask: Tensor | None = None) -> None:
        """Zero the state of the streams where ``mask`` (B,) bool is True; all of them if None."""
        with torch.inference_mode():
            if mask is None:
                self.z.zero_()
                for c in self.c:
                    c.zero_()
                return
            if mask.shape != (self.batch_size,) or mask.dtype != torch.bool:
                raise RnnkitError(f"reset mask must be bool of shape ({self.batch_size},), got "
                                  f"{mask.dtype} {tuple(mask.shape)}")
            rows = mask.to(self.z.device)[:, None]                          # (B, 1)
            self.z[:, self.input_size:].masked_fill_(rows, 0.0)
            for c in self.c:
                c.masked_fill_(rows, 0.0)

    # -- stepping --------------------------------------------------------------------------------
    def _refresh_weights(self) -> None:
        """Rebuild the fused step weights if any parameter changed since they were built."""
        if self._versions and all(param._version == version
                                  for param, version in zip(self._params, self._versions)):
            return
        with torch.inference_mode():
            self.weights = [_step_weights(self.kind, cell) for cell in self.layer.cells]
        self._versions = [param._version for param in self._params]

    def step(self, x_t: Tensor) -> Tensor:
        """One timestep for every stream: x_t (B, I) -> y_t (B, H), the last layer's output."""
        if x_t.shape != (self.batch_size, self.input_size):
            raise RnnkitError(f"expected x_t of shape ({self.batch_size}, {self.input_size}), "
                              f"got {tuple(x_t.shape)}")
        self._refresh_weights()
        with torch.inference_mode():
            self.z[:, :self.input_size].copy_(x_t)
            for l, (read, (weight, bias), gates) in enumerate(
                    zip(self.reads, self.weights, self.gates)):
                torch.addmm(bias, read, weight, out=gates)                   # (B, G'*H)
                if self.kind == "lstm":
                    self._lstm_update(l)
                elif self.kind == "gru":
                    self._gru_update(l)
                else:
                    self._elman_update(gates, self.states[l])
            return self.states[-1].clone()

    def _lstm_update(self, l: int) -> None:
        i, f, o, g = self.gate_views[l]
        h, c = self.states[l], self.c[l]
        self.sigmoid_views[l].sigmoid_()                                     # i, f, o
        c.mul_(f).addcmul_(i, g.tanh_())                                     # c = f c + i g
        torch.mul(o, torch.tanh(c, out=self.scratch), out=h)                 # h = o tanh(c)

    def _gru_update(self, l: int) -> None:
        r, z, n, a_n = self.gate_views[l]
        h = self.states[l]
        self.sigmoid_views[l].sigmoid_()                                     # r, z
        n.addcmul_(r, a_n).tanh_()                                           # n = tanh(x^n + r a^n)
        torch.lerp(n, h, z, out=h)                                           # h = n + z (h - n)
