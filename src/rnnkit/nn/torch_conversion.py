"""Weights both ways between an rnnkit layer and ``torch.nn.RNN``/``LSTM``/``GRU``: the same
parameters under the same names, so a copy is a copy of tensors (the fused path runs torch's own
kernels on them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.nn.config import RecurrentConfig

if TYPE_CHECKING:
    from rnnkit.nn.layers import StackedRecurrent

TORCH_MODES = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU"}


class TorchConversion:
    """Mixed into :class:`~rnnkit.nn.layers.StackedRecurrent`."""

    @classmethod
    def from_torch(cls, module: nn.RNNBase, *, path: str = "auto") -> "StackedRecurrent":
        """An rnnkit layer holding a copy of a ``torch.nn`` RNN/LSTM/GRU's weights."""
        modes = {v: k for k, v in TORCH_MODES.items()}
        if not isinstance(module, nn.RNNBase) or module.mode not in modes:
            raise RnnkitError("from_torch takes torch.nn.RNN/LSTM/GRU, not "
                              f"{type(module).__name__}")
        config = RecurrentConfig(
            cell=modes[module.mode], input_size=module.input_size, hidden_size=module.hidden_size,
            num_layers=module.num_layers, bias=module.bias, dropout=float(module.dropout),
            bidirectional=module.bidirectional, path=path, batch_first=module.batch_first,
            proj_size=getattr(module, "proj_size", 0))
        from rnnkit.nn.torch_layers import LAYERS     # the subclasses build on this module
        first = module._flat_weights[0]
        layer = LAYERS[config.cell].from_config(config, device=first.device, dtype=first.dtype)
        with torch.no_grad():
            for mine, theirs in zip(layer.flat_weights(), module._flat_weights):
                mine.copy_(theirs)
        return layer

    def to_torch(self) -> nn.RNNBase:
        """A ``torch.nn`` RNN/LSTM/GRU of the same configuration holding a copy of these
        weights."""
        return self._torch_module(share=False)

    def _torch_module(self, *, share: bool = False) -> nn.RNNBase:
        c = self.config
        if c.needs_explicit:
            raise RnnkitError("torch.nn has no layer-normalised LSTM and no recurrent dropout: "
                              "this layer has no torch.nn equivalent")
        kwargs = dict(num_layers=c.num_layers, bias=c.bias, dropout=c.dropout,
                      bidirectional=c.bidirectional, batch_first=c.batch_first)
        first = self.weight_ih_l0
        with torch.device("meta"):                       # no initialisation, no draws
            if c.cell == "lstm":
                module = nn.LSTM(c.input_size, c.hidden_size, proj_size=c.proj_size, **kwargs)
            elif c.cell == "gru":
                module = nn.GRU(c.input_size, c.hidden_size, **kwargs)
            else:
                module = nn.RNN(c.input_size, c.hidden_size,
                                nonlinearity=c.cell.removeprefix("rnn_"), **kwargs)
        module = module.to_empty(device=first.device).to(first.dtype)
        for name in self._flat_weights_names:
            mine = getattr(self, name)
            if share:
                setattr(module, name, mine)
            else:
                with torch.no_grad():
                    getattr(module, name).copy_(mine)
        return module.train(self.training)
