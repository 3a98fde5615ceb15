"""What ``torch.jit.script`` compiles in place of an rnnkit layer: the fused path, in TorchScript.

TorchScript cannot compile rnnkit's dispatch (dataclass configs, autograd Functions, compiled
loops), so :meth:`~rnnkit.nn.layers.StackedRecurrent.__prepare_scriptable__` hands it one of
these instead: a module holding the layer's own parameters (the same tensors, not copies) whose
``forward(input, hx=None)`` runs PyTorch's kernel, ``torch.lstm`` / ``torch.gru`` /
``torch.rnn_tanh`` / ``torch.rnn_relu``, as the fused path does, on batched (3-D) or unbatched
(2-D) input in the layer's layout. ``torch.nn``'s own RNN modules do not script in every torch
release (2.13's ``torch.jit.script(nn.GRU(...))`` has no ``forward``), which is why rnnkit does not
hand over a ``torch.nn`` module. Not compiled: PackedSequence input and ``lengths=``.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn


class _Scriptable(nn.Module):
    __constants__ = ["mode", "num_layers", "dropout", "bidirectional", "batch_first", "bias",
                     "hidden_size", "state_width", "num_directions"]

    def __init__(self, layer) -> None:
        super().__init__()
        c = layer.config
        self.mode = layer.mode
        self.num_layers, self.dropout, self.bias = c.num_layers, c.dropout, c.bias
        self.bidirectional, self.batch_first = c.bidirectional, c.batch_first
        self.hidden_size, self.state_width = c.hidden_size, c.state_width
        self.num_directions = c.num_directions
        for name in layer._flat_weights_names:           # the layer's parameters themselves
            setattr(self, name, getattr(layer, name))
        self._flat_weights = layer.flat_weights()
        self.train(layer.training)

    def _batched(self, input: Tensor) -> tuple[Tensor, bool]:
        if input.dim() == 3:
            return input, True
        return input.unsqueeze(0 if self.batch_first else 1), False

    def _zeros(self, input: Tensor, width: int) -> Tensor:
        batch = input.size(0) if self.batch_first else input.size(1)
        return torch.zeros(self.num_layers * self.num_directions, batch, width,
                           dtype=input.dtype, device=input.device)


class ScriptableLSTM(_Scriptable):
    """The fused LSTM in TorchScript: ``forward(input, hx=None) -> (output, (h_n, c_n))``."""

    def forward(self, input: Tensor, hx: Optional[tuple[Tensor, Tensor]] = None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x, batched = self._batched(input)
        if hx is None:
            h0, c0 = self._zeros(x, self.state_width), self._zeros(x, self.hidden_size)
        else:
            h0, c0 = hx
            if not batched:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        output, h_n, c_n = torch.lstm(x, [h0, c0], self._flat_weights, self.bias,
                                      self.num_layers, self.dropout, self.training,
                                      self.bidirectional, self.batch_first)
        if not batched:
            return output.squeeze(0 if self.batch_first else 1), (h_n.squeeze(1),
                                                                   c_n.squeeze(1))
        return output, (h_n, c_n)


class ScriptableRecurrent(_Scriptable):
    """The fused GRU or Elman RNN in TorchScript: ``forward(input, hx=None) -> (output,
    h_n)``."""

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        x, batched = self._batched(input)
        if hx is None:
            h0 = self._zeros(x, self.hidden_size)
        else:
            h0 = hx if batched else hx.unsqueeze(1)
        w, bias, layers, p = self._flat_weights, self.bias, self.num_layers, self.dropout
        train, bidir, batch_first = self.training, self.bidirectional, self.batch_first
        if self.mode == "GRU":
            output, h_n = torch.gru(x, h0, w, bias, layers, p, train, bidir, batch_first)
        elif self.mode == "RNN_TANH":
            output, h_n = torch.rnn_tanh(x, h0, w, bias, layers, p, train, bidir, batch_first)
        else:
            output, h_n = torch.rnn_relu(x, h0, w, bias, layers, p, train, bidir, batch_first)
        if not batched:
            return output.squeeze(0 if self.batch_first else 1), h_n.squeeze(1)
        return output, h_n
