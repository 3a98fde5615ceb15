"""Layer-norm LSTM and variational (recurrent) dropout: the cell against the paper's equations
written out independently, the explicit Function against the reference loop (float64 gradcheck,
float32 parity on outputs and every gradient, within 1e-5 / 1e-4 relative), one dropout mask per
sequence for every timestep, and path selection."""

import itertools

import pytest
import torch

import rnnkit.nn as rn
from rnnkit.errors import RnnkitError

B, T, I, H = 3, 5, 4, 3
LENGTHS = torch.tensor([5, 2, 1])


def perturbed(cell, scale=0.3, seed=0):
    """The cell with every parameter moved off its initial value (gains away from 1)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return cell


def make_cell(kind, input_size=I, hidden_size=H, dtype=torch.float32):
    cells = {"lstm": rn.LSTMCell, "ln_lstm": rn.LayerNormLSTMCell, "gru": rn.GRUCell}
    if kind in cells:
        cell = cells[kind](input_size, hidden_size)
    else:
        cell = rn.ElmanCell(input_size, hidden_size, nonlinearity=kind.removeprefix("rnn_"))
    return perturbed(cell.to(dtype))


def dropout_mask(batch, hidden, p=0.4, seed=3, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, hidden, generator=gen) > p).to(dtype) / (1 - p)


def test_layer_norm_cell_follows_the_paper():
    """Ba et al. 2016, 3.1, written out with explicit means and variances."""
    torch.manual_seed(0)
    cell = make_cell("ln_lstm", dtype=torch.float64)
    x, h, c = (torch.randn(B, n, dtype=torch.float64) for n in (I, H, H))

    def ln(v, gain, shift):
        mean = v.mean(-1, keepdim=True)
        var = ((v - mean) ** 2).mean(-1, keepdim=True)
        return gain * (v - mean) / torch.sqrt(var + 1e-5) + shift

    gates = (ln(x @ cell.weight_ih.T, cell.gain_ih, cell.bias_ih)
             + ln(h @ cell.weight_hh.T, cell.gain_hh, cell.bias_hh))
    i, f, g, o = gates.split(H, dim=-1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(ln(c_new, cell.gain_c, cell.bias_c))
    y, (h_out, c_out) = cell.step(x, (h, c))
    torch.testing.assert_close(c_out, c_new, atol=1e-12, rtol=0)
    torch.testing.assert_close(h_out, h_new, atol=1e-12, rtol=0)
    assert y is h_out


def test_layer_norm_cell_initialisation():
    cell = rn.LayerNormLSTMCell(4, 6, forget_bias=1.0)
    assert torch.equal(cell.gain_hh, torch.ones(24)) and torch.equal(cell.gain_c, torch.ones(6))
    assert torch.equal(cell.bias_ih[6:12], torch.ones(6)) and cell.bias_hh.abs().sum() == 0


@pytest.mark.parametrize("layer_norm,masked,reverse,use_lengths",
                         list(itertools.product((False, True), repeat=4)))
def test_explicit_lstm_gradcheck_in_float64(layer_norm, masked, reverse, use_lengths):
    gen = torch.Generator().manual_seed(1)
    d = dict(dtype=torch.float64)
    xp = torch.randn(B, T, 4 * H, generator=gen, **d)
    h0, c0 = torch.randn(B, H, generator=gen, **d), torch.randn(B, H, generator=gen, **d)
    w_hh = 0.6 * torch.randn(4 * H, H, generator=gen, **d)
    b_hh = torch.randn(4 * H, generator=gen, **d)
    ln = [1 + 0.3 * torch.randn(n, generator=gen, **d) for n in (4 * H, H, H)]
    args = [t.requires_grad_() for t in (xp, h0, c0, w_hh, b_hh, *ln)]
    mask = dropout_mask(B, H, dtype=torch.float64) if masked else None
    lengths = LENGTHS if use_lengths else None

    def run(xp, h0, c0, w_hh, b_hh, gain_hh, gain_c, bias_c):
        y, (h, c) = rn.explicit_lstm(xp, (h0, c0), w_hh, b_hh=b_hh,
                                     layer_norm=(gain_hh, gain_c, bias_c) if layer_norm else None,
                                     recurrent_mask=mask, lengths=lengths, reverse=reverse)
        return y, h, c

    assert torch.autograd.gradcheck(run, args, eps=1e-6, atol=1e-6)


def assert_matches_scan(kind, *, mask, reverse, lengths, batch=4, steps=7, hidden=6):
    """explicit_scan against scan with the same mask: outputs, final state, every gradient."""
    torch.manual_seed(2)
    cell = make_cell(kind, I, hidden)
    x = torch.randn(batch, steps, I, requires_grad=True)
    state = tuple(torch.randn(batch, hidden, requires_grad=True)
                  for _ in range(cell.state_size))
    state = state if len(state) == 2 else state[0]
    kwargs = dict(lengths=lengths, reverse=reverse, recurrent_mask=mask)
    y_ref, s_ref = rn.scan(cell, x, state, **kwargs)
    y, s = rn.explicit_scan(cell, x, state, **kwargs)
    as_list = lambda st: list(st) if isinstance(st, tuple) else [st]    # noqa: E731
    outs, outs_ref = [y, *as_list(s)], [y_ref, *as_list(s_ref)]
    for out, ref in zip(outs, outs_ref):
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)

    weights = [torch.randn_like(o) for o in outs]
    wrt = [x, *as_list(state), *cell.parameters()]
    grads_ref = torch.autograd.grad(sum((o * w).sum() for o, w in zip(outs_ref, weights)), wrt)
    grads = torch.autograd.grad(sum((o * w).sum() for o, w in zip(outs, weights)), wrt)
    for g, g_ref in zip(grads, grads_ref):
        err = (g - g_ref).abs().max() / g_ref.abs().max()
        assert err < 1e-4, f"relative gradient error {err:.2e}"


@pytest.mark.parametrize("kind,masked,reverse,use_lengths",
                         list(itertools.product(("lstm", "ln_lstm", "gru", "rnn_tanh"),
                                                (False, True), (False, True), (False, True))))
def test_explicit_scan_matches_the_loop_with_the_same_mask(kind, masked, reverse, use_lengths):
    mask = dropout_mask(4, 6) if masked else None
    lengths = torch.tensor([7, 3, 1, 6]) if use_lengths else None
    assert_matches_scan(kind, mask=mask, reverse=reverse, lengths=lengths)


def test_explicit_lstm_matches_the_loop_over_chunks_and_packed_products(monkeypatch):
    """Chunked backward (tiny CHUNK_BYTES) and oneDNN's prepacked product (H=256)."""
    import rnnkit.nn.fast.explicit_common as common
    monkeypatch.setattr(common, "CHUNK_BYTES", 1)
    assert_matches_scan("ln_lstm", mask=dropout_mask(2, 8), reverse=False, lengths=None,
                        batch=2, steps=6, hidden=8)
    monkeypatch.undo()
    assert_matches_scan("ln_lstm", mask=dropout_mask(2, 256), reverse=True,
                        lengths=torch.tensor([3, 5]), batch=2, steps=5, hidden=256)


@pytest.mark.parametrize("path", ["explicit", "loop"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_one_mask_per_sequence_at_every_step(cell, path):
    """Units of h_{t-1} dropped at one step are dropped at all of them: their W_hh columns get
    no gradient over 40 steps (a fresh mask per step would keep each unit at some step), and
    every other column does."""
    torch.manual_seed(4)
    layer = rn.build_recurrent(rn.RecurrentConfig(cell, 3, 8, batch_first=True,
                                                  recurrent_dropout=0.5, path=path))
    layer.train()
    x = torch.randn(1, 40, 3)
    torch.manual_seed(7)
    y, _ = layer(x)
    y.sum().backward()
    column_grad = layer.cells[0].weight_hh.grad.abs().sum(0)          # (H,)
    dropped = column_grad == 0
    assert 0 < int(dropped.sum()) < 8
    torch.manual_seed(7)
    mask = layer.recurrent_masks(1, x)[0]                         # the same draw
    assert torch.equal(dropped, mask[0] == 0)


@pytest.mark.parametrize("cell,layer_norm", [("lstm", True), ("lstm", False), ("gru", False),
                                             ("rnn_relu", False)])
def test_layer_paths_agree_in_training(cell, layer_norm):
    """explicit and loop paths, same weights and seed: same masks, outputs and gradients
    (2 layers, bidirectional, lengths, inter-layer dropout too; float64 agrees to 1e-12)."""
    results = []
    for path in ("explicit", "loop"):
        torch.manual_seed(5)
        config = rn.RecurrentConfig(cell, 4, 5, batch_first=True,
                                    num_layers=2, bidirectional=True, dropout=0.2,
                                    layer_norm=layer_norm, recurrent_dropout=0.3, path=path)
        layer = rn.build_recurrent(config).train()
        x = torch.randn(3, 6, 4)
        y, _ = layer(x, lengths=torch.tensor([6, 4, 2]))
        y.pow(2).sum().backward()
        results.append((y, [p.grad for p in layer.parameters()]))
    (y_a, g_a), (y_b, g_b) = results
    torch.testing.assert_close(y_a, y_b, atol=1e-5, rtol=0)
    for a, b in zip(g_a, g_b):                   # two LN layers deep: float32 rounding ~1e-4
        assert (a - b).abs().max() / b.abs().max() < 5e-4


def test_path_selection():
    ln = rn.LSTM(4, 5, batch_first=True, layer_norm=True)
    assert ln.path == "explicit" and isinstance(ln.cells[0], rn.LayerNormLSTMCell)
    dropped = rn.LSTM(4, 5, batch_first=True, recurrent_dropout=0.2)
    assert dropped.train().path == "explicit"
    assert dropped.eval().path == "fused"                # no mask in eval: the fused kernel
    with torch.no_grad():
        assert ln.eval().path == "explicit"
    with pytest.raises(RnnkitError, match="no layer norm or recurrent dropout"):
        rn.LSTM(4, 5, layer_norm=True, path="fused")
    with pytest.raises(RnnkitError, match="no layer norm or recurrent dropout"):
        rn.GRU(4, 5, recurrent_dropout=0.1, path="fused")
    with pytest.raises(RnnkitError, match="LSTM option"):
        rn.RecurrentConfig("gru", 4, 5, layer_norm=True)
    with pytest.raises(RnnkitError, match="recurrent_dropout"):
        rn.RecurrentConfig("lstm", 4, 5, recurrent_dropout=1.0)
    with pytest.raises(RnnkitError, match="layer-normalised"):
        rn.Streamer(ln, 2)
    with pytest.raises(RnnkitError, match="layer-normalised"):
        ln.to_torch()


def test_plain_explicit_lstm_matches_torch_nn():
    """path='explicit' without LN or dropout computes torch.nn.LSTM's numbers."""
    torch.manual_seed(6)
    reference = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True)
    layer = rn.from_torch(reference, path="explicit")
    x = torch.randn(3, 7, 4)
    y_ref, (h_ref, c_ref) = reference(x)
    y, (h, c) = layer(x)
    for a, b in ((y, y_ref), (h, h_ref), (c, c_ref)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    y.sum().backward()
    y_ref.sum().backward()
    for mine, theirs in zip(layer.flat_weights(), reference._flat_weights):
        torch.testing.assert_close(mine.grad, theirs.grad, atol=1e-4, rtol=1e-4)
