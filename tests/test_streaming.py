"""Streamer: stepping T times equals the layer's forward over the sequence; per-stream reset;
state buffers updated in place with no memory growth."""

import tracemalloc

import pytest
import torch

import rnnkit.nn as rn
from rnnkit.errors import RnnkitError

B, T, I, H = 4, 9, 3, 6
CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


def as_tuple(state):
    return tuple(state) if isinstance(state, tuple) else (state,)


def layer_for(cell, num_layers=2, seed=0):
    torch.manual_seed(seed)
    return rn.build_recurrent(rn.RecurrentConfig(cell, I, H, batch_first=True,
                                                 num_layers=num_layers)).eval()


@pytest.mark.parametrize("cell", CELLS)
def test_stepping_equals_the_forward_over_the_whole_sequence(cell):
    layer = layer_for(cell)
    x = torch.randn(B, T, I)
    y, final = layer(x)
    stream = rn.Streamer(layer, B)
    stepped = torch.stack([stream.step(x[:, t]) for t in range(T)], dim=1)     # (B, T, H)
    torch.testing.assert_close(stepped, y, atol=1e-6, rtol=0)
    for mine, theirs in zip(as_tuple(stream.state), as_tuple(final)):
        torch.testing.assert_close(mine, theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_reset_zeroes_only_the_masked_streams(cell):
    layer = layer_for(cell, seed=1)
    x = torch.randn(B, T, I)
    stream = rn.Streamer(layer, B)
    cut = 4
    for t in range(cut):
        stream.step(x[:, t])
    reset = torch.tensor([True, False, True, False])
    stream.reset(reset)
    after = torch.stack([stream.step(x[:, t]) for t in range(cut, T)], dim=1)

    whole, _ = layer(x)                                  # streams never reset
    fresh, _ = layer(x[:, cut:])                         # streams started at the cut
    torch.testing.assert_close(after[reset], fresh[reset], atol=1e-6, rtol=0)
    torch.testing.assert_close(after[~reset], whole[~reset, cut:], atol=1e-6, rtol=0)

    stream.reset()
    assert all(s.abs().max() == 0 for s in as_tuple(stream.state))


def test_steps_update_preallocated_buffers_in_place_without_memory_growth():
    layer = layer_for("lstm")
    stream = rn.Streamer(layer, B)
    x_t = torch.randn(B, I)
    buffers = [stream.z, *stream.gates, *stream.c]
    pointers = [b.data_ptr() for b in buffers]
    for _ in range(200):                                 # warm-up: caches, lazy imports
        stream.step(x_t)
    tracemalloc.start()
    try:
        y = stream.step(x_t)
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(2000):
            y = stream.step(x_t)
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 4096, f"Python memory grew by {end - start} bytes over 2000 steps"
    assert [b.data_ptr() for b in buffers] == pointers
    assert y.data_ptr() not in pointers                 # the output is fresh, not the state


def test_stepping_picks_up_in_place_weight_updates():
    layer = layer_for("gru", num_layers=1).train()
    stream = rn.Streamer(layer, B)
    x = torch.randn(B, 1, I)
    stream.step(x[:, 0])
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer(x)[0].square().sum().backward()
    optimizer.step()
    stream.reset()
    torch.testing.assert_close(stream.step(x[:, 0]), layer(x)[0][:, 0], atol=1e-6, rtol=0)


def test_bidirectional_layer_is_refused():
    layer = rn.GRU(I, H, batch_first=True, bidirectional=True)
    with pytest.raises(RnnkitError, match="reverse pass"):
        rn.Streamer(layer, B)


def test_bad_shapes_are_refused():
    stream = rn.Streamer(layer_for("rnn_tanh", num_layers=1), B)
    with pytest.raises(RnnkitError, match="x_t"):
        stream.step(torch.randn(B + 1, I))
    with pytest.raises(RnnkitError, match="mask"):
        stream.reset(torch.ones(B))
