"""The compiled LSTM loops (rnnkit.nn.fast.native, csrc/lstm_loops.cpp) against the Python loops and
torch.nn.LSTM, and float64 gradcheck with layer norm, lengths, recurrent dropout and both
directions."""

import itertools

import pytest
import torch

import rnnkit.nn as rn
from rnnkit.nn.fast import native
from rnnkit.nn.fast.explicit_lstm import explicit_lstm


def lstm_inputs(B, T, H, *, dtype, bias, layer_norm, bias_c, seed):
    gen = torch.Generator().manual_seed(seed)
    xp = torch.randn(B, T, 4 * H, generator=gen, dtype=dtype)
    h0, c0 = (torch.randn(B, H, generator=gen, dtype=dtype) for _ in range(2))
    w_hh = torch.randn(4 * H, H, generator=gen, dtype=dtype) / H ** 0.5
    b_hh = torch.randn(4 * H, generator=gen, dtype=dtype) if bias else None
    norm = None
    if layer_norm:                                       # gains away from 1, a real bias_c
        norm = (torch.rand(4 * H, generator=gen, dtype=dtype) + 0.5,
                torch.rand(H, generator=gen, dtype=dtype) + 0.5,
                torch.randn(H, generator=gen, dtype=dtype) if bias_c else None)
    return xp, h0, c0, w_hh, b_hh, norm


def run(use_native, xp, h0, c0, w_hh, b_hh, norm, **kw):
    """Outputs and every gradient against fixed random output gradients."""
    native.set_enabled(use_native)
    xp, h0, c0, w_hh = (t.detach().clone().requires_grad_() for t in (xp, h0, c0, w_hh))
    b_hh = b_hh.detach().clone().requires_grad_() if b_hh is not None else None
    norm = (tuple(t.detach().clone().requires_grad_() if t is not None else None for t in norm)
            if norm is not None else None)
    y, (h_n, c_n) = explicit_lstm(xp, (h0, c0), w_hh, b_hh=b_hh, layer_norm=norm, **kw)
    gen = torch.Generator().manual_seed(99)
    loss = sum((out * torch.randn(out.shape, generator=gen, dtype=out.dtype)).sum()
               for out in (y, h_n, c_n))
    loss.backward()
    leaves = [xp, h0, c0, w_hh, b_hh, *(norm or ())]
    return [y, h_n, c_n] + [t.grad for t in leaves if t is not None]


@pytest.mark.parametrize("layer_norm,reverse,use_lengths,use_mask",
                         list(itertools.product((True, False), repeat=4)))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_loops_match_python_loops(compiled_lstm, layer_norm, reverse, use_lengths,
                                           use_mask, dtype):
    """Outputs, final states and every gradient (inputs, W_hh, b_hh, the three layer-norm
    parameters); H = 37 leaves a vector tail in every row loop and reduction."""
    B, T, H = 5, 8, 37
    args = lstm_inputs(B, T, H, dtype=dtype, bias=True, layer_norm=layer_norm, bias_c=True,
                       seed=3)
    kw = dict(reverse=reverse)
    if use_lengths:
        kw["lengths"] = torch.tensor([8, 3, 0, 1, 6])
    if use_mask:
        gen = torch.Generator().manual_seed(5)
        kw["recurrent_mask"] = (torch.rand(B, H, generator=gen) > 0.3).to(dtype) / 0.7
    tol = dict(atol=2e-5, rtol=1e-4) if dtype == torch.float32 else dict(atol=1e-12, rtol=0)
    for got, want in zip(run(True, *args, **kw), run(False, *args, **kw)):
        torch.testing.assert_close(got, want, **tol)


@pytest.mark.parametrize("bias,bias_c", [(False, True), (True, False)])
def test_without_biases_and_with_the_packed_weight(compiled_lstm, bias, bias_c):
    """No b_hh, or no layer-norm bias on the cell; H = 256 (W_hh 1024 x 256 = 2^18 elements) runs
    the per-step product through oneDNN's packed linear."""
    args = lstm_inputs(3, 5, 256, dtype=torch.float32, bias=bias, layer_norm=True,
                       bias_c=bias_c, seed=4)
    kw = dict(lengths=torch.tensor([5, 2, 4]), reverse=bias)
    for got, want in zip(run(True, *args, **kw), run(False, *args, **kw)):
        torch.testing.assert_close(got, want, atol=5e-5, rtol=1e-4)


@pytest.mark.parametrize("layer_norm,reverse", [(True, False), (True, True), (False, True)])
def test_gradcheck_in_float64(compiled_lstm, layer_norm, reverse):
    B, T, H = 3, 4, 3
    xp, h0, c0, w_hh, b_hh, norm = lstm_inputs(B, T, H, dtype=torch.float64, bias=True,
                                               layer_norm=layer_norm, bias_c=True, seed=7)
    mask = torch.tensor([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0], [2.0, 2.0, 0.0]], dtype=torch.float64)
    lengths = torch.tensor([4, 2, 0])
    leaves = [xp, h0, c0, w_hh, b_hh, *(norm or ())]
    leaves = [t.requires_grad_() for t in leaves]
    n = 5

    def fn(*args):
        ln = tuple(args[n:]) if layer_norm else None
        y, (h_n, c_n) = explicit_lstm(args[0], (args[1], args[2]), args[3], b_hh=args[4],
                                      layer_norm=ln, recurrent_mask=mask, lengths=lengths,
                                      reverse=reverse)
        return y, h_n, c_n

    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-6)


def test_layer_norm_lstm_layer_learns_the_same_with_either_loop(compiled_lstm):
    """A two-layer bidirectional layer-norm LSTM layer: the compiled loops give the Python loops'
    outputs and parameter gradients (the layer-level tie; tests/test_ln_lstm_dropout.py ties the
    explicit path to the autograd loop)."""
    torch.manual_seed(8)
    layer = rn.LSTM(6, 16, batch_first=True,
                    num_layers=2, bidirectional=True, layer_norm=True, path="explicit")
    x = torch.randn(4, 9, 6)
    results = []
    for use_native in (True, False):
        native.set_enabled(use_native)
        layer.zero_grad()
        y, _ = layer(x)
        (y * torch.linspace(-1, 1, y.shape[-1])).sum().backward()
        results.append([y.detach()] + [p.grad.clone() for p in layer.parameters()])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)


def test_explicit_lstm_with_compiled_loops_matches_torch_nn_lstm(compiled_lstm):
    torch.manual_seed(9)
    ref = torch.nn.LSTM(5, 12, batch_first=True)
    mine = rn.from_torch(ref, path="explicit")
    x = torch.randn(3, 10, 5)
    y_ref, _ = ref(x)
    y, _ = mine(x)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=0)
    y_ref.pow(2).sum().backward()
    y.pow(2).sum().backward()
    for (name, p_ref), p in zip(ref.named_parameters(), mine.parameters()):
        torch.testing.assert_close(p.grad, p_ref.grad, atol=1e-5, rtol=1e-4, msg=name)
