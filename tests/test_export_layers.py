"""torch.export and ONNX of every recurrent layer on its default path: the traced loop
(rnnkit.nn.traced) against the reference loop, exported programs with a dynamic batch and time
against eager (B = 1, T = 1, padded batches with lengths), in eval and training mode."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.export import Dim

import rnnkit.nn as rn
from rnnkit.nn.mingru import MinGRU
from rnnkit.nn.minlstm import MinLSTM
from rnnkit.nn.recurrence import scan
from rnnkit.nn.traced import traced_scan

# name -> a stacked layer (batch_first, 2 layers) on its default path
LAYERS = {
    "lstm": lambda: rn.LSTM(3, 5, 2, batch_first=True),
    "lstm-bidirectional": lambda: rn.LSTM(3, 5, 2, batch_first=True, bidirectional=True),
    "layer-norm-lstm": lambda: rn.LSTM(3, 5, 2, batch_first=True, layer_norm=True),
    "lstm-recurrent-dropout": lambda: rn.LSTM(3, 5, 2, batch_first=True, recurrent_dropout=0.3),
    "gru": lambda: rn.GRU(3, 5, 2, batch_first=True, bidirectional=True),
    "rnn-tanh": lambda: rn.RNN(3, 5, 2, batch_first=True),
    "rnn-relu": lambda: rn.RNN(3, 5, 2, batch_first=True, nonlinearity="relu"),
    "mingru": lambda: MinGRU(3, 5, 2),
    "minlstm": lambda: MinLSTM(3, 5, 2),
}
CELLS = {
    "lstm": lambda: rn.LSTMCell(3, 5),
    "layer-norm-lstm": lambda: rn.LayerNormLSTMCell(3, 5),
    "gru": lambda: rn.GRUCell(3, 5),
    "rnn-relu": lambda: rn.ElmanCell(3, 5, nonlinearity="relu"),
}


class WithLengths(nn.Module):
    """layer(x, lengths=lengths) as a module of two inputs, outputs flattened."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths):
        y, state = self.layer(x, lengths=lengths)
        return (y, *state) if isinstance(state, tuple) else (y, state)


def reference(module: WithLengths) -> WithLengths:
    """The eager module the exported one is held to: itself, except that a layer-normalised
    LSTM is compared with its reference loop, whose operations the traced loop repeats. Its
    explicit path differs from both by up to ~5e-5 in float32: layer norm of a recurrent
    product with a small variance divides round-off by sqrt(var + 1e-5)."""
    layer = module.layer
    if not getattr(getattr(layer, "config", None), "layer_norm", False):
        return module
    twin = type(layer).from_config(dataclasses.replace(layer.config, path="loop"))
    twin.load_state_dict(layer.state_dict())
    return WithLengths(twin).train(module.training)


def random_lengths(batch: int, steps: int) -> torch.Tensor:
    lengths = torch.randint(1, steps + 1, (batch,))
    lengths[0] = steps
    return lengths


def export(module: nn.Module, x, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b, t = Dim("batch"), Dim("time")
        return torch.export.export(module, (x, lengths),
                                   dynamic_shapes=({0: b, 1: t}, {0: b}))


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("reverse", [False, True])
def test_traced_scan_gives_the_reference_loops_numbers(name, reverse):
    torch.manual_seed(0)
    cell = CELLS[name]()
    x, lengths = torch.randn(4, 7, 3), torch.tensor([7, 3, 1, 5])
    state = cell.initial_state(4, dtype=x.dtype, device=x.device)
    state = tuple(torch.randn_like(s) for s in state) if isinstance(state, tuple) \
        else torch.randn_like(state)
    mask = torch.bernoulli(torch.full((4, 5), 0.7)) / 0.7
    for kw in ({}, {"lengths": lengths}, {"lengths": lengths, "recurrent_mask": mask}):
        got = traced_scan(cell, x, state, reverse=reverse, **kw)
        want = scan(cell, x, state, reverse=reverse, **kw)
        for a, b in zip(torch.utils._pytree.tree_leaves(got),
                        torch.utils._pytree.tree_leaves(want)):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", list(LAYERS))
def test_torch_export_takes_every_layer_with_dynamic_batch_time_and_lengths(name):
    torch.manual_seed(1)
    module = WithLengths(LAYERS[name]()).eval()
    program = export(module, torch.randn(3, 6, 3), random_lengths(3, 6)).module()
    for batch, steps in ((1, 1), (2, 1), (1, 9), (5, 8)):
        x, lengths = torch.randn(batch, steps, 3), random_lengths(batch, steps)
        with torch.no_grad():
            want = reference(module)(x, lengths)
            got = program(x, lengths)
        for a, b in zip(got, want):
            assert a.shape == b.shape
            assert (a - b).abs().max() <= 1e-5


@pytest.mark.parametrize("name", ["lstm", "layer-norm-lstm", *(pytest.param(
    n, marks=pytest.mark.slow) for n in ("lstm-recurrent-dropout", "gru", "mingru"))])
def test_torch_export_traces_the_training_mode_too(name):
    torch.manual_seed(2)
    layer = LAYERS[name]()
    layer.dropout = 0.5
    module = WithLengths(layer).train()
    program = export(module, torch.randn(3, 6, 3), random_lengths(3, 6)).module()
    x, lengths = torch.randn(4, 5, 3), torch.tensor([5, 2, 1, 4])
    y, *state = program(x, lengths)
    assert y.shape[:2] == (4, 5) and torch.isfinite(y).all()
    assert (y[2, 1:] == 0).all()                         # padding stays zero in training too
    module.layer.dropout = 0.0
    if name in ("lstm", "gru", "mingru"):                # nothing random left: eager's numbers
        module.eval()
        program = export(module, torch.randn(3, 6, 3), random_lengths(3, 6)).module()
        torch.testing.assert_close(program(x, lengths)[0], module(x, lengths)[0],
                                   atol=1e-5, rtol=0)


def test_the_explicit_path_becomes_the_traced_loop_under_export():
    torch.manual_seed(3)
    module = WithLengths(rn.GRU(3, 5, batch_first=True, path="explicit")).eval()
    program = export(module, torch.randn(3, 6, 3), random_lengths(3, 6)).module()
    x, lengths = torch.randn(2, 4, 3), torch.tensor([4, 2])
    torch.testing.assert_close(program(x, lengths)[0], module(x, lengths)[0], atol=1e-5, rtol=0)


def test_a_layer_copies_and_saves_right_after_an_export():
    import copy
    import io
    torch.manual_seed(4)
    layer = rn.LSTM(3, 5, 2, batch_first=True).eval()
    x = torch.randn(2, 4, 3)
    torch.export.export(layer, (x,))           # the trace hands its fake tensors to the cells
    twin = copy.deepcopy(layer)
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    with torch.no_grad():
        for other in (twin, loaded):
            torch.testing.assert_close(other(x)[0], layer(x)[0], atol=0, rtol=0)


@pytest.mark.parametrize("name", ["layer-norm-lstm", "gru", pytest.param(
    "minlstm", marks=pytest.mark.slow), pytest.param("rnn-relu", marks=pytest.mark.slow)])
def test_onnx_runtime_runs_the_exported_layer_like_eager(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch.manual_seed(4)
    module = WithLengths(LAYERS[name]()).eval()
    program = export(module, torch.randn(3, 6, 3), random_lengths(3, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx = torch.onnx.export(program, input_names=["x", "lengths"], verbose=False)
    onnx.save(str(tmp_path / "layer.onnx"))
    session = ort.InferenceSession(str(tmp_path / "layer.onnx"),
                                   providers=["CPUExecutionProvider"])
    for batch, steps in ((1, 1), (4, 9)):
        x, lengths = torch.randn(batch, steps, 3), random_lengths(batch, steps)
        got = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})
        with torch.no_grad():
            for a, b in zip(got, reference(module)(x, lengths)):
                assert np.abs(a - b.numpy()).max() <= 1e-5
