"""The explicit-BPTT Functions against autograd: float64 gradcheck, and the reference loop path
(outputs within 1e-5, every parameter gradient within 1e-4 relative) in float32."""

import itertools

import pytest
import torch

import rnnkit.nn as rn
import rnnkit.nn.fast.explicit_common as common
from rnnkit.nn.fast import native

B, T, I, H = 3, 5, 4, 3
LENGTHS = torch.tensor([5, 2, 0])        # a full, a short and an empty sequence
FUNCTIONS = {
    "gru": (3, lambda *a, **k: rn.explicit_gru(*a, **k)),
    "rnn_tanh": (1, lambda *a, **k: rn.explicit_elman(*a, nonlinearity="tanh", **k)),
    "rnn_relu": (1, lambda *a, **k: rn.explicit_elman(*a, nonlinearity="relu", **k)),
}
DIRECTIONS = [dict(reverse=False), dict(reverse=True)]


def inputs(cell, *, bias=True, dtype=torch.float64, seed=0):
    gates, _ = FUNCTIONS[cell]
    gen = torch.Generator().manual_seed(seed)
    xp = torch.randn(B, T, gates * H, generator=gen, dtype=dtype)
    h0 = torch.randn(B, H, generator=gen, dtype=dtype)
    w_hh = torch.randn(gates * H, H, generator=gen, dtype=dtype) * 0.6
    b_hh = torch.randn(gates * H, generator=gen, dtype=dtype) if bias else None
    return [t.requires_grad_() if t is not None else None for t in (xp, h0, w_hh, b_hh)]


@pytest.mark.parametrize("cell,reverse,use_lengths,bias",
                         list(itertools.product(FUNCTIONS, (False, True), (False, True),
                                                (True, False))))
def test_gradcheck_in_float64(cell, reverse, use_lengths, bias):
    _, fn = FUNCTIONS[cell]
    lengths = LENGTHS if use_lengths else None
    args = inputs(cell, bias=bias)
    assert torch.autograd.gradcheck(
        lambda *a: fn(*a, lengths=lengths, reverse=reverse), args, eps=1e-6, atol=1e-6)


def make_cell(cell, input_size=I, hidden_size=H):
    if cell == "gru":
        return rn.GRUCell(input_size, hidden_size)
    return rn.ElmanCell(input_size, hidden_size, nonlinearity=cell.removeprefix("rnn_"))


def assert_matches_scan(cell_kind, *, reverse, lengths, batch=B, steps=T, hidden=H, seed=1):
    """explicit_scan against scan on one cell: outputs, final state, every gradient."""
    torch.manual_seed(seed)
    cell = make_cell(cell_kind, I, hidden)
    x = torch.randn(batch, steps, I, requires_grad=True)
    h0 = torch.randn(batch, hidden, requires_grad=True)
    y_ref, h_ref = rn.scan(cell, x, h0, lengths=lengths, reverse=reverse)
    y, h = rn.explicit_scan(cell, x, h0, lengths=lengths, reverse=reverse)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(h, h_ref, atol=1e-5, rtol=0)
    if lengths is not None:
        pad = torch.arange(steps)[None, :] >= lengths[:, None]
        assert y[pad].abs().max() == 0

    weights = torch.randn_like(y), torch.randn_like(h)
    wrt = [x, h0, *cell.parameters()]
    grads_ref = torch.autograd.grad((y_ref * weights[0]).sum() + (h_ref * weights[1]).sum(), wrt)
    grads = torch.autograd.grad((y * weights[0]).sum() + (h * weights[1]).sum(), wrt)
    for g, g_ref in zip(grads, grads_ref):
        err = (g - g_ref).abs().max() / g_ref.abs().max()
        assert err < 1e-4, f"relative gradient error {err:.2e}"


@pytest.mark.parametrize("cell,direction,use_lengths",
                         list(itertools.product(FUNCTIONS, DIRECTIONS, (False, True))))
def test_explicit_scan_matches_the_reference_loop(cell, direction, use_lengths):
    lengths = torch.tensor([7, 3, 1, 6]) if use_lengths else None
    assert_matches_scan(cell, lengths=lengths, batch=4, steps=7, hidden=6, **direction)


@pytest.mark.parametrize("cell", ["gru", "rnn_tanh"])
def test_prepacked_recurrent_product_matches_the_reference_loop(cell):
    # A recurrent weight of PACKED_MIN_WEIGHT elements or more takes oneDNN's prepacked product.
    hidden = 296 if cell == "gru" else 512                # 3*296*296, 512*512 >= 2**18
    gates, _ = FUNCTIONS[cell]
    assert gates * hidden * hidden >= common.PACKED_MIN_WEIGHT
    assert_matches_scan(cell, reverse=True, lengths=torch.tensor([3, 1, 2]), steps=3,
                        hidden=hidden)


@pytest.mark.parametrize("rows,cols", [(24, 6), (1024, 256)])     # addmm_ and prepacked
def test_recurrent_product_accumulates_and_overwrites(rows, cols):
    torch.manual_seed(5)
    weight, h = torch.randn(rows, cols), torch.randn(3, cols)
    product = common.RecurrentProduct(weight, 3)
    assert product.packed == (rows * cols >= common.PACKED_MIN_WEIGHT)
    acc = torch.randn(3, rows)
    expected = acc + h @ weight.T
    torch.testing.assert_close(product(acc, h), expected, atol=1e-4, rtol=1e-5)
    out = torch.full((3, rows), float("nan"))            # ``into`` never reads what was there
    torch.testing.assert_close(product.into(out, h), h @ weight.T, atol=1e-4, rtol=1e-5)
    assert torch.equal(out, product.into(out, h))


@pytest.mark.parametrize("cell,direction", list(itertools.product(FUNCTIONS, DIRECTIONS)))
def test_chunked_backward_gives_the_same_gradients(cell, direction, monkeypatch):
    _, fn = FUNCTIONS[cell]
    lengths = torch.tensor([5, 3, 1])

    def gradients():
        args = inputs(cell, dtype=torch.float32, seed=2)
        y, h = fn(*args, lengths=lengths, **direction)
        (y.square().sum() + h.sum()).backward()
        return [a.grad for a in args]

    whole = gradients()
    monkeypatch.setattr(common, "CHUNK_BYTES", 1)        # one timestep per chunk
    for g, g_whole in zip(gradients(), whole):
        torch.testing.assert_close(g, g_whole, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "rnn_tanh", "rnn_relu"])
def test_explicit_layer_matches_loop_layer_with_dropout_between_layers(cell):
    torch.manual_seed(4)
    config = rn.RecurrentConfig(cell, I, 5, batch_first=True,
                                num_layers=3, bidirectional=True, dropout=0.3,
                                path="loop")
    loop = rn.build_recurrent(config)
    explicit = rn.build_recurrent(rn.RecurrentConfig(**{**config.__dict__, "path": "explicit"}))
    explicit.load_state_dict(loop.state_dict())
    x = torch.randn(4, 6, I)
    lengths = torch.tensor([6, 2, 5, 1])
    outputs = []
    for layer in (loop, explicit):
        torch.manual_seed(5)                              # the same dropout masks
        y, h = layer(x, lengths=lengths)
        (y.square().sum() + h.sum()).backward()
        outputs.append((y, h))
    torch.testing.assert_close(outputs[1][0], outputs[0][0], atol=1e-5, rtol=0)
    torch.testing.assert_close(outputs[1][1], outputs[0][1], atol=1e-5, rtol=0)
    for p_explicit, p_loop in zip(explicit.parameters(), loop.parameters()):
        err = (p_explicit.grad - p_loop.grad).abs().max() / p_loop.grad.abs().max()
        assert err < 1e-4, f"relative gradient error {err:.2e}"


def test_one_autograd_node_per_layer_and_direction():
    layer = rn.GRU(I, H, batch_first=True, num_layers=2, bidirectional=True, path="explicit")
    y, _ = layer(torch.randn(2, 9, I))
    seen, stack = set(), [y.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(next_fn for next_fn, _ in node.next_functions)
    assert sum(type(n).__name__ == "ExplicitGRUBackward" for n in seen) == 4


def test_auto_path_picks_explicit_for_training_gru_and_rnn_on_cpu():
    cpu = torch.device("cpu")
    assert rn.auto_path("gru", cpu) == "explicit"
    assert rn.auto_path("rnn_tanh", cpu) == "explicit"
    assert rn.auto_path("rnn_relu", cpu, grad_enabled=False) == "explicit"
    assert rn.auto_path("lstm", cpu) == "fused"
    assert rn.auto_path("gru", torch.device("cuda")) == "fused"
    layer = rn.GRU(I, H, batch_first=True)
    assert layer.path == "explicit"


@pytest.mark.parametrize("compiled", [True, False])
def test_gru_inference_runs_explicit_only_with_compiled_loops(compiled):
    """GRU inference on CPU: the compiled loops beat torch's kernel (docs/benchmarks.md), the
    Python loop does not, so ``auto`` picks the explicit path only when the loops are built."""
    native.set_enabled(compiled)
    try:
        built = native.gru_loops() is not None
        want = "explicit" if compiled and built else "fused"
        assert rn.auto_path("gru", torch.device("cpu"), grad_enabled=False) == want
        with torch.no_grad():
            assert rn.GRU(I, H, batch_first=True).path == want
    finally:
        native.set_enabled(None)


def test_explicit_path_runs_lstm_too():
    """Since ExplicitLSTM (tests/test_ln_lstm_dropout.py ties it to torch.nn and the loop)."""
    assert rn.LSTM(I, H, batch_first=True, path="explicit").path == "explicit"


@pytest.mark.parametrize("kwargs", [dict(layer_norm=True), dict(recurrent_dropout=0.3),
                                    dict(), dict(bidirectional=True)])
def test_explicit_lstm_second_derivatives_match_the_loop(kwargs):
    """A gradient penalty through the explicit LSTM (the layer-norm one too) gives the loop's
    parameter gradients: its backward, asked for a graph, differentiates the reference."""
    torch.manual_seed(12)
    explicit = rn.LSTM(3, 5, 2, batch_first=True, path="explicit", **kwargs).double()
    loop = rn.LSTM(3, 5, 2, batch_first=True, path="loop", **kwargs).double()
    loop.load_state_dict(explicit.state_dict())
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 3, 1, 5])
    grads = []
    for layer in (explicit, loop):
        torch.manual_seed(13)                            # the same recurrent dropout masks
        x_ = x.clone().requires_grad_()
        y, (h, c) = layer(x_, lengths=lengths)
        g, = torch.autograd.grad(y.sum() + c.sum(), x_, create_graph=True)
        (y.square().sum() + g.square().sum()).backward()
        grads.append([p.grad for p in layer.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-7)
