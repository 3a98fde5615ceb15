"""rnnkit layers against torch.nn with copied weights: outputs, final states, every gradient."""

import itertools
import zlib

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit.nn as rn

TORCH = {
    "lstm": lambda *a, **k: nn.LSTM(*a, **k),
    "gru": lambda *a, **k: nn.GRU(*a, **k),
    "rnn_tanh": lambda *a, **k: nn.RNN(*a, nonlinearity="tanh", **k),
    "rnn_relu": lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k),
}
CASES = [case for case in itertools.product(TORCH, (1, 2), (False, True), (False, True),
                                            ("fused", "explicit", "loop"))
         if case[-1] != "explicit" or case[0] != "lstm"]     # no explicit LSTM: it runs fused


def torch_forward(module, x, hx, lengths):
    if lengths is None:
        return module(x, hx)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, finals = module(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, finals


def as_tuple(state):
    return tuple(state) if isinstance(state, tuple) else (state,)


def weighted_loss(out, finals, weights):
    terms = [out, *as_tuple(finals)]
    return sum((t * w).sum() for t, w in zip(terms, weights))


@pytest.mark.parametrize("cell,layers,bidir,use_lengths,path", CASES)
def test_matches_torch_nn_outputs_states_and_gradients(cell, layers, bidir, use_lengths, path):
    # A stable seed per case (hash() of strings changes with every interpreter).
    gen = torch.Generator().manual_seed(zlib.crc32(repr((cell, layers, bidir, use_lengths, path))
                                                   .encode()))
    B, T, I, H = 5, 9, 6, 7
    D = 2 if bidir else 1
    ref = TORCH[cell](I, H, num_layers=layers, bidirectional=bidir, batch_first=True)
    with torch.no_grad():
        for w in ref.parameters():
            w.copy_(torch.randn(w.shape, generator=gen) * 0.4)
    mine = rn.from_torch(ref, path=path)

    x = torch.randn(B, T, I, generator=gen)
    h0 = torch.randn(layers * D, B, H, generator=gen)
    hx = (h0, torch.randn(layers * D, B, H, generator=gen)) if cell == "lstm" else h0
    lengths = torch.tensor([9, 4, 1, 7, 9]) if use_lengths else None

    x_ref, x_mine = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ref, fin_ref = torch_forward(ref, x_ref, hx, lengths)
    out_mine, fin_mine = mine(x_mine, hx, lengths=lengths)

    # ReLU outputs are unbounded (tens here), and float32 round-off grows with them: rtol 1e-5.
    torch.testing.assert_close(out_mine, out_ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(as_tuple(fin_mine), as_tuple(fin_ref)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    if use_lengths:
        pad = torch.arange(T)[None, :] >= lengths[:, None]          # (B, T)
        assert out_mine[pad].abs().max() == 0

    weights = [torch.randn(t.shape, generator=gen) for t in (out_ref, *as_tuple(fin_ref))]
    weighted_loss(out_ref, fin_ref, weights).backward()
    weighted_loss(out_mine, fin_mine, weights).backward()
    pairs = list(zip(mine.flat_weights(), ref._flat_weights)) + [(x_mine, x_ref)]
    for p_mine, p_ref in pairs:
        err = (p_mine.grad - p_ref.grad).abs().max() / p_ref.grad.abs().max()
        assert err < 1e-4, f"relative gradient error {err:.2e}"


@pytest.mark.parametrize("cell,path", [(cell, path) for cell in TORCH
                                       for path in ("fused", "explicit", "auto")
                                       if path != "explicit" or cell != "lstm"])
def test_fast_paths_and_loop_agree_on_native_layers(cell, path):
    torch.manual_seed(1)
    config = rn.RecurrentConfig(cell, 4, 6, batch_first=True,
                                num_layers=2, bidirectional=True, path=path)
    fused = rn.build_recurrent(config)
    loop = rn.build_recurrent(config.__class__(**{**config.__dict__, "path": "loop"}))
    loop.load_state_dict(fused.state_dict())
    x = torch.randn(3, 11, 4)
    lengths = torch.tensor([11, 2, 6])
    (y1, s1), (y2, s2) = fused(x, lengths=lengths), loop(x, lengths=lengths)
    torch.testing.assert_close(y1, y2, atol=1e-5, rtol=0)
    (y1.square().sum() + sum(s.sum() for s in as_tuple(s1))).backward()
    (y2.square().sum() + sum(s.sum() for s in as_tuple(s2))).backward()
    for a, b in zip(fused.parameters(), loop.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cell", list(TORCH))
def test_lengths_give_the_same_numbers_as_unpadded_sequences(cell):
    torch.manual_seed(2)
    layer = rn.build_recurrent(rn.RecurrentConfig(cell, 3, 5, batch_first=True,
                                                  bidirectional=True, path="loop"))
    x = torch.randn(3, 8, 3)
    lengths = torch.tensor([8, 5, 2])
    out, finals = layer(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        alone, alone_finals = layer(x[b:b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone[0], atol=1e-6, rtol=0)
        for f, g in zip(as_tuple(finals), as_tuple(alone_finals)):
            torch.testing.assert_close(f[:, b], g[:, 0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", list(TORCH))
def test_to_torch_round_trip_computes_the_same(cell):
    torch.manual_seed(3)
    layer = rn.build_recurrent(rn.RecurrentConfig(cell, 4, 5, batch_first=True, num_layers=2))
    module = layer.to_torch()
    x = torch.randn(2, 6, 4)
    torch.testing.assert_close(layer(x)[0], module(x)[0], atol=1e-6, rtol=0)
    back = rn.from_torch(module)
    torch.testing.assert_close(back(x)[0], layer(x)[0], atol=0, rtol=0)
