"""Benchmark rows beyond rnnkit-against-torch.nn: the layer-normalised LSTM, and Keras 3.

**LN-LSTM.** ``torch.nn`` has no layer-normalised LSTM, so its explicit path is timed against two
references in the same process: ``torch.nn.LSTM`` without layer norm (the speed bar: the same
recurrent products in oneDNN's fused kernel, without the normalisations) and rnnkit's reference
loop with layer norm (each cell's ``step`` under autograd: what one writes without a fused
path). The input has the same shape for all three.

**Keras 3** (``pip install keras``; optional) on its torch backend: ``keras.layers.LSTM`` /
``GRU`` are ``torch.nn.Module`` s there, called on the same torch tensor, trained by the same
``sum().backward()``. Their weights are Keras's own (same shapes, different values: speed does
not depend on them). The row's "rnnkit" side is rnnkit's layer (``path="auto"``) and the
reference is Keras.
"""

from __future__ import annotations

import dataclasses
import os

import torch
from torch import nn

import rnnkit.nn as rn
from rnnkit.bench.measure import BenchConfig
from rnnkit.bench.speed import compare, torch_module
from rnnkit.errors import RnnkitError


def ln_lstm_rows(cell: str, config: BenchConfig, repeats: int, peak: float) -> list[dict]:
    """LN-LSTM, explicit path: training against torch.nn.LSTM (no LN) and against the loop
    with LN; inference against torch.nn.LSTM."""
    reference = torch_module("lstm", config)
    layer_config = rn.RecurrentConfig("lstm", config.inputs, config.hidden,
                                      num_layers=config.layers, layer_norm=True,
                                      forget_bias=1.0, batch_first=True)
    mine = rn.build_recurrent(layer_config)
    loop = rn.build_recurrent(dataclasses.replace(layer_config, path="loop"))
    loop.load_state_dict(mine.state_dict())
    rows = compare("ln_lstm", config, mine, reference, "torch.nn.LSTM (no layer norm)",
                   repeats, peak)
    rows += compare("ln_lstm", config, mine, loop, "rnnkit loop, layer norm", repeats, peak,
                    modes=("train",))
    return rows


class _KerasAdapter(nn.Module):
    """A Keras RNN layer called as ``module(x) -> (output, None)``."""

    def __init__(self, layer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x), None


def keras_module():
    """Keras 3 on the torch backend, or a one-line error saying why not."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as e:
        raise RnnkitError(f"--keras needs Keras 3 (pip install keras): {e}") from None
    if keras.backend.backend() != "torch":
        raise RnnkitError(f"Keras runs its {keras.backend.backend()!r} backend; set "
                          "KERAS_BACKEND=torch before starting Python")
    return keras


def keras_rows(config: BenchConfig, repeats: int, peak: float) -> list[dict]:
    """rnnkit LSTM and GRU (path auto) against keras.layers.LSTM / GRU, one layer each
    (stacked configs use their first layer only: Keras stacks by composing layers)."""
    keras = keras_module()
    one = BenchConfig(config.batch, config.steps, config.inputs, config.hidden)
    rows = []
    for cell, make in (("lstm", keras.layers.LSTM), ("gru", keras.layers.GRU)):
        theirs = _KerasAdapter(make(one.hidden, return_sequences=True))
        theirs(torch.zeros(1, 1, one.inputs))            # builds the weights
        mine = rn.from_torch(torch_module(cell, one))
        rows += compare(cell, one, mine, theirs,
                        f"keras {keras.__version__} {make.__name__} (torch backend)",
                        repeats, peak)
    return rows
