"""minGRU / minLSTM and their scans: fast paths against the reference loop, lengths, learning."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.nn.mingru import MinGRU, MinGRUCell
from rnnkit.nn.minimal import MinimalConfig, resolve_mode
from rnnkit.nn.minlstm import MinLSTM, MinLSTMCell
from rnnkit.nn.linear_recurrence import (FLOAT32_GRAD_TOLERANCE, FLOAT32_TOLERANCE, g, lerp_scan,
                                         linear_scan, log_g, log_space_scan, sequential_scan)

CELLS = [MinGRUCell, MinLSTMCell]
LAYERS = [MinGRU, MinLSTM]
MODES = ["sequential", "parallel"]
F64 = dict(dtype=torch.float64)


def reference_forward(cell, x, h0):
    """The cell's own ``step``, repeated: outputs (B, T, H) and final state."""
    h, outputs = h0, []
    for x_t in x.unbind(1):
        y, h = cell.step(x_t, h)
        outputs.append(y)
    return torch.stack(outputs, dim=1), h


def grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


# -- the positivity trick ----------------------------------------------------------------------

def test_g_is_positive_continuous_and_log_g_is_its_log():
    x = torch.linspace(-30, 30, 2001, **F64)
    assert (g(x) > 0).all()
    torch.testing.assert_close(log_g(x), torch.log(g(x)), atol=1e-12, rtol=0)
    torch.testing.assert_close(g(torch.tensor([-1e-9, 0.0], **F64)), torch.full((2,), 0.5, **F64))
    assert torch.isfinite(log_g(torch.tensor([-200.0]))).all()      # g underflows, log_g does not


def test_g_and_log_g_gradients_match_the_piecewise_definition():
    x = (torch.randn(200, **F64) * 4).requires_grad_()
    def reference():                                                        # the paper's g
        return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))

    for mine, want in [(g(x), reference()), (log_g(x), reference().log())]:
        torch.testing.assert_close(grads(mine.sum(), x)[0], grads(want.sum(), x)[0],
                                   atol=1e-12, rtol=0)
    assert torch.autograd.gradcheck(g, (x[:20].detach().requires_grad_(),))


# -- scans against the reference loop ---------------------------------------------------------

def scan_inputs(gen, B=3, T=11, H=4, dtype=torch.float64):
    a = torch.rand(B, T, H, generator=gen, dtype=dtype) * 0.98 + 0.01      # in (0, 1)
    b = torch.rand(B, T, H, generator=gen, dtype=dtype) + 0.1               # positive
    h0 = torch.randn(B, H, generator=gen, dtype=dtype)                     # any sign
    return [t.requires_grad_() for t in (a, b, h0)]


def test_linear_and_lerp_scans_match_sequential_scan_on_outputs_and_gradients():
    a, b, h0 = scan_inputs(torch.Generator().manual_seed(0))
    weights = torch.randn(a.shape, **F64)
    ref = sequential_scan(a, b, h0)
    fast = linear_scan(a, b, h0)
    lerp = lerp_scan(1 - a, b, h0)           # z = 1 - a, c = b: h = a h + (1 - a) b
    torch.testing.assert_close(fast, ref, atol=1e-13, rtol=0)
    torch.testing.assert_close(lerp, sequential_scan(a, (1 - a) * b, h0), atol=1e-13, rtol=0)
    for got, want in zip(grads((fast * weights).sum(), (a, b, h0)),
                         grads((ref * weights).sum(), (a, b, h0))):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    assert torch.autograd.gradcheck(linear_scan, (a, b, h0))
    assert torch.autograd.gradcheck(lerp_scan, (a, b, h0))


@pytest.mark.parametrize("T,chunk", [(11, 64), (37, 8), (40, 8), (5, 1)])
def test_log_space_scan_matches_sequential_scan_across_chunks(T, chunk):
    a, b, h0 = scan_inputs(torch.Generator().manual_seed(T * chunk), T=T)
    weights = torch.randn(a.shape, **F64)
    ref = sequential_scan(a, b, h0)
    par = log_space_scan(a.log(), b.log(), h0, chunk_size=chunk)
    torch.testing.assert_close(par, ref, atol=1e-12, rtol=0)
    for got, want in zip(grads((par * weights).sum(), (a, b, h0)),
                         grads((ref * weights).sum(), (a, b, h0))):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    log_a, log_b = (t.log().detach().requires_grad_() for t in (a, b))
    assert torch.autograd.gradcheck(
        lambda la, lb, h: log_space_scan(la, lb, h, chunk_size=chunk), (log_a, log_b, h0))


def test_log_space_scan_starts_from_zero_without_h0():
    a, b, _ = scan_inputs(torch.Generator().manual_seed(3))
    torch.testing.assert_close(log_space_scan(a.log(), b.log()),
                               sequential_scan(a, b, torch.zeros(3, 4, **F64)), atol=1e-13, rtol=0)


def mingru_gates(gen, B, T, H, dtype):
    """log a, log b of a minGRU with random pre-activations, as the layer would produce them."""
    k = torch.randn(B, T, H, generator=gen, dtype=dtype)
    p = torch.randn(B, T, H, generator=gen, dtype=dtype)
    return -F.softplus(k), -F.softplus(-k) + log_g(p)


def test_float32_log_space_scan_holds_its_tolerance_at_4096_steps():
    gen = torch.Generator().manual_seed(4)
    log_a, log_b = mingru_gates(gen, 2, 4096, 32, torch.float64)
    h0 = torch.randn(2, 32, generator=gen, **F64)
    ref = sequential_scan(log_a.exp(), log_b.exp(), h0)                    # float64 loop
    scale = ref.abs().max()
    err64 = (log_space_scan(log_a, log_b, h0) - ref).abs().max() / scale
    err32 = (log_space_scan(log_a.float(), log_b.float(), h0.float()) - ref).abs().max() / scale
    seq32 = linear_scan(log_a.exp().float(), log_b.exp().float(), h0.float()) - ref
    assert err64 < 1e-12
    assert err32 < FLOAT32_TOLERANCE, f"float32 log-space scan off by {err32:.1e} of max|h|"
    assert seq32.abs().max() / scale < 1e-6


@pytest.mark.parametrize("cell_class", CELLS)
def test_float32_modes_agree_with_float64_at_4096_steps_on_outputs_and_gradients(cell_class):
    torch.manual_seed(5)
    B, T, I, H = 2, 4096, 8, 16
    cell = cell_class(I, H).double()
    x = torch.randn(B, T, I, **F64)
    h0 = torch.randn(B, H, **F64)
    weights = torch.randn(B, T, H, **F64)

    def run(c, dtype, mode):
        params = list(c.parameters())
        out, _ = c(x.to(dtype), h0.to(dtype), mode=mode)
        return out, grads((out * weights.to(dtype)).sum(), params)

    ref_out, ref_grads = run(cell, torch.float64, "sequential")
    cell32 = cell_class(I, H)
    cell32.load_state_dict(cell.state_dict())
    for mode in MODES:
        out, grads32 = run(cell32, torch.float32, mode)
        assert (out - ref_out).abs().max() / ref_out.abs().max() < FLOAT32_TOLERANCE
        for got, want in zip(grads32, ref_grads):
            assert (got - want).abs().max() / want.abs().max() < FLOAT32_GRAD_TOLERANCE, mode


# -- the cells ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cell_class", CELLS)
@pytest.mark.parametrize("mode", MODES)
def test_cell_modes_match_repeated_step_on_outputs_and_gradients(cell_class, mode):
    torch.manual_seed(6)
    B, T, I, H = 3, 13, 4, 5
    cell = cell_class(I, H).double()
    x = torch.randn(B, T, I, **F64, requires_grad=True)
    h0 = torch.randn(B, H, **F64, requires_grad=True)
    weights = torch.randn(B, T, H, **F64)
    inputs = (x, h0, *cell.parameters())

    out, h_T = cell(x, h0, mode=mode)
    ref_out, ref_h = reference_forward(cell, x, h0)
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(h_T, ref_h, atol=1e-12, rtol=0)
    for got, want in zip(grads((out * weights).sum() + h_T.sum(), inputs),
                         grads((ref_out * weights).sum() + ref_h.sum(), inputs)):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    small = (x[:, :6].detach().requires_grad_(), h0)
    assert torch.autograd.gradcheck(lambda x_, h_: cell(x_, h_, mode=mode)[0], small)


@pytest.mark.parametrize("layer_class", LAYERS)
@pytest.mark.parametrize("mode", MODES)
def test_step_by_step_generation_equals_forward(layer_class, mode):
    torch.manual_seed(7)
    layer = layer_class(3, 6, num_layers=2, mode=mode)
    x = torch.randn(2, 20, 3)
    out, h_n = layer(x)
    h = [torch.zeros(2, 6), torch.zeros(2, 6)]
    for t in range(20):
        y = x[:, t]
        for k, cell in enumerate(layer.cells):
            y, h[k] = cell.step(y, h[k])
        torch.testing.assert_close(y, out[:, t], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.stack(h), h_n, atol=1e-5, rtol=1e-5)


def test_mingru_golden_values_from_constant_weights():
    # w = 0.25, b = 0, x_t = 1 (I = 2): k = p = 0.5, z = sigmoid(0.5), h~ = g(0.5) = 1.0,
    # so h_t = 1 - (1 - z)^t (1 - h0) in closed form.
    cell = MinGRUCell(2, 3)
    nn.init.constant_(cell.w_ih, 0.25)
    nn.init.zeros_(cell.b_ih)
    h0 = torch.tensor([[-1.0, 0.0, 2.0]])
    t = torch.arange(1, 9, dtype=torch.float32)[:, None]
    want = 1 - (1 - torch.sigmoid(torch.tensor(0.5))) ** t * (1 - h0)      # (T, H)
    for mode in MODES:
        out, _ = cell(torch.ones(1, 8, 2), h0, mode=mode)
        torch.testing.assert_close(out[0], want, atol=1e-6, rtol=0)


def test_minlstm_normalises_forget_and_input_gates():
    cell = MinLSTMCell(4, 5).double()
    xp = torch.randn(7, 15, **F64) * 3
    z, c = cell.gates(xp)
    k_f, k_i, p = xp.chunk(3, dim=-1)
    f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
    torch.testing.assert_close(z, i / (f + i), atol=1e-14, rtol=0)
    log_a, log_b = cell.log_gates(xp)
    torch.testing.assert_close(log_a.exp(), f / (f + i), atol=1e-14, rtol=0)
    torch.testing.assert_close(log_b.exp(), i / (f + i) * g(p), atol=1e-14, rtol=0)


# -- the layers --------------------------------------------------------------------------------

@pytest.mark.parametrize("layer_class", LAYERS)
@pytest.mark.parametrize("mode", MODES)
def test_lengths_equal_running_each_sequence_alone(layer_class, mode):
    torch.manual_seed(8)
    B, T, I, H, L = 4, 9, 3, 5, 2
    layer = layer_class(I, H, num_layers=L, mode=mode)
    x = torch.randn(B, T, I)
    state = torch.randn(L, B, H)
    lengths = torch.tensor([9, 4, 1, 6])
    out, h_n = layer(x, state, lengths=lengths)
    assert out.shape == (B, T, H) and h_n.shape == (L, B, H)
    for b, n in enumerate(lengths.tolist()):
        alone, h_alone = layer(x[b:b + 1, :n], state[:, b:b + 1].contiguous())
        # the parallel mode's log-space scan rounds by a few float32 ulps of values near 1
        torch.testing.assert_close(out[b, :n], alone[0], atol=1e-6, rtol=1e-6)
        assert (out[b, n:] == 0).all()
        torch.testing.assert_close(h_n[:, b], h_alone[:, 0], atol=1e-6, rtol=1e-6)
    x.requires_grad_()
    layer(x, state, lengths=lengths)[0].sum().backward()
    assert x.grad[1, 4:].abs().max() == 0 and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("layer_class", LAYERS)
def test_layer_modes_agree_and_accept_a_config(layer_class):
    torch.manual_seed(9)
    seq = layer_class(4, 6, num_layers=3, mode="sequential")
    config = MinimalConfig(seq.config.cell, 4, 6, num_layers=3, mode="parallel")
    par = layer_class(config)
    par.load_state_dict(seq.state_dict())
    x = torch.randn(2, 30, 4)
    for a, b in zip(seq(x), par(x)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_auto_mode_is_sequential_on_cpu_and_bad_arguments_raise():
    assert resolve_mode("auto", torch.device("cpu")) == "sequential"
    assert resolve_mode("auto", torch.device("cuda")) == "parallel"
    assert resolve_mode("parallel", torch.device("cpu")) == "parallel"
    with pytest.raises(RnnkitError):
        resolve_mode("fused", torch.device("cpu"))
    with pytest.raises(RnnkitError):
        MinimalConfig("gru", 3, 4)
    with pytest.raises(RnnkitError):
        MinGRU(3, 4, dropout=1.0)
    with pytest.raises(RnnkitError):
        MinLSTM(MinimalConfig("mingru", 3, 4))
    layer = MinGRU(3, 4, num_layers=2)
    with pytest.raises(RnnkitError):
        layer(torch.randn(2, 5, 4))
    with pytest.raises(RnnkitError):
        layer(torch.randn(2, 5, 3), torch.zeros(1, 2, 4))
    with pytest.raises(RnnkitError):
        layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 0]))


# -- learning ------------------------------------------------------------------------------------

def test_mingru_learns_to_recall_the_first_token_after_a_delay():
    """Token 1..K at t=0, then 20 random distractor tokens; predict the first token at the end.

    Only a state that holds the first token across the distractors does better than chance (1/K).
    """
    torch.manual_seed(10)
    K, D, delay, B = 4, 4, 20, 64
    embed = nn.Embedding(K + D, 16)
    rnn = MinGRU(16, 64)
    head = nn.Linear(64, K)
    params = [*embed.parameters(), *rnn.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)

    def batch(n):
        first = torch.randint(0, K, (n, 1))
        return torch.cat([first, torch.randint(K, K + D, (n, delay))], dim=1), first[:, 0]

    def logits(tokens):
        out, _ = rnn(embed(tokens))
        return head(out[:, -1])

    for _ in range(200):
        tokens, target = batch(B)
        loss = F.cross_entropy(logits(tokens), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    tokens, target = batch(1000)
    with torch.no_grad():
        accuracy = (logits(tokens).argmax(-1) == target).float().mean().item()
    assert accuracy > 0.9, f"accuracy {accuracy:.2f} (chance {1 / K:.2f})"
    assert loss.item() < 0.5 * math.log(K)
