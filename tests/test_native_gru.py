"""The compiled GRU loops (rnnkit.nn.fast.native, csrc/gru_loops.cpp) against the Python loops and
torch.nn.GRU, float64 gradcheck on both, and the buffer cache both paths allocate from."""

import itertools

import pytest
import torch

import rnnkit.nn as rn
from rnnkit.nn.fast import native
from rnnkit.nn.fast.buffer_cache import CACHE, BufferCache, _storage_owners, unshared
from rnnkit.nn.fast.explicit_gru import explicit_gru


def gru_inputs(B, T, H, *, dtype, bias, seed):
    gen = torch.Generator().manual_seed(seed)
    xp = torch.randn(B, T, 3 * H, generator=gen, dtype=dtype)
    h0 = torch.randn(B, H, generator=gen, dtype=dtype)
    w_hh = torch.randn(3 * H, H, generator=gen, dtype=dtype) / H ** 0.5
    b_hh = torch.randn(3 * H, generator=gen, dtype=dtype) if bias else None
    return xp, h0, w_hh, b_hh


def run(use_native, xp, h0, w_hh, b_hh, **kw):
    """Outputs and every input gradient of one explicit_gru call, against fixed random
    output gradients (never all ones, so each output element weighs differently)."""
    native.set_enabled(use_native)
    leaves = [t.detach().clone().requires_grad_() if t is not None else None
              for t in (xp, h0, w_hh, b_hh)]
    y, h_n = explicit_gru(*leaves, **kw)
    gen = torch.Generator().manual_seed(99)
    gy = torch.randn(y.shape, generator=gen, dtype=y.dtype)
    gh = torch.randn(h_n.shape, generator=gen, dtype=y.dtype)
    ((y * gy).sum() + (h_n * gh).sum()).backward()
    return [y, h_n] + [t.grad for t in leaves if t is not None]


CASES = list(itertools.product((False, True), (False, True), (False, True), (False, True)))


@pytest.mark.parametrize("reverse,use_lengths,use_mask,bias", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_loops_match_python_loops(compiled_gru, reverse, use_lengths, use_mask, bias,
                                           dtype):
    """Every output and gradient, both directions, with and without lengths (a full, a short,
    an empty sequence), variational dropout and b_hh; H = 37 leaves a vector tail."""
    B, T, H = 5, 9, 37
    xp, h0, w_hh, b_hh = gru_inputs(B, T, H, dtype=dtype, bias=bias, seed=3)
    kw = dict(reverse=reverse)
    if use_lengths:
        kw["lengths"] = torch.tensor([9, 4, 0, 1, 7])
    if use_mask:
        gen = torch.Generator().manual_seed(5)
        kw["recurrent_mask"] = (torch.rand(B, H, generator=gen) > 0.3).to(dtype) / 0.7
    fast = run(True, xp, h0, w_hh, b_hh, **kw)
    slow = run(False, xp, h0, w_hh, b_hh, **kw)
    tol = dict(atol=2e-5, rtol=1e-4) if dtype == torch.float32 else dict(atol=1e-12, rtol=0)
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, **tol)


def test_compiled_loops_with_the_packed_weight(compiled_gru):
    """From 2^18 weight elements the per-step product is oneDNN's packed linear; the compiled
    loops call it through the dispatcher. H = 300: W_hh is 900 x 300."""
    B, T, H = 4, 6, 300
    xp, h0, w_hh, b_hh = gru_inputs(B, T, H, dtype=torch.float32, bias=True, seed=4)
    mask = (torch.rand(B, H, generator=torch.Generator().manual_seed(6)) > 0.5).float() * 2
    for reverse in (False, True):
        kw = dict(reverse=reverse, recurrent_mask=mask, lengths=torch.tensor([6, 2, 6, 0]))
        for got, want in zip(run(True, xp, h0, w_hh, b_hh, **kw),
                             run(False, xp, h0, w_hh, b_hh, **kw)):
            torch.testing.assert_close(got, want, atol=5e-5, rtol=1e-4)


@pytest.mark.parametrize("use_native", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_in_float64_with_lengths_and_mask(reverse, use_native, request):
    request.getfixturevalue("compiled_gru" if use_native else "python_loops")
    B, T, H = 3, 5, 4
    xp, h0, w_hh, b_hh = gru_inputs(B, T, H, dtype=torch.float64, bias=True, seed=7)
    mask = torch.tensor([[2.0, 0.0, 2.0, 2.0], [0.0, 2.0, 2.0, 0.0], [2.0, 2.0, 0.0, 2.0]],
                        dtype=torch.float64)
    lengths = torch.tensor([5, 2, 0])
    args = [t.requires_grad_() for t in (xp, h0, w_hh, b_hh)]
    assert torch.autograd.gradcheck(
        lambda *a: explicit_gru(*a, lengths=lengths, reverse=reverse, recurrent_mask=mask),
        args, eps=1e-6, atol=1e-6)


def test_compiled_path_matches_torch_nn_gru(compiled_gru):
    """A two-layer bidirectional torch.nn.GRU and rnnkit's copy on the explicit path: outputs,
    final states and every parameter and input gradient."""
    torch.manual_seed(8)
    ref = torch.nn.GRU(6, 20, num_layers=2, bidirectional=True, batch_first=True)
    mine = rn.from_torch(ref, path="explicit")
    x = torch.randn(4, 11, 6)
    x_ref, x_mine = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ref, h_ref = ref(x_ref)
    y, h = mine(x_mine)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(h, h_ref, atol=1e-5, rtol=0)
    g = torch.randn_like(y)
    (y_ref * g).sum().backward()
    (y * g).sum().backward()
    torch.testing.assert_close(x_mine.grad, x_ref.grad, atol=1e-5, rtol=1e-4)
    grads = dict(mine.named_parameters())
    for (name, p_ref), p in zip(ref.named_parameters(), grads.values()):
        torch.testing.assert_close(p.grad, p_ref.grad, atol=1e-4, rtol=1e-4, msg=name)


def test_switch_and_environment(monkeypatch):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    native.set_enabled(None)
    assert not native.enabled() and native.gru_loops() is None
    monkeypatch.setenv("RNNKIT_NATIVE", "1")
    assert native.enabled()
    native.set_enabled(False)
    assert not native.enabled()
    native.set_enabled(None)


def test_a_failed_build_falls_back_once_with_one_line(monkeypatch, capsys):
    def broken(kind, **_):
        raise RuntimeError("Error building extension\nlong compiler output")

    monkeypatch.setattr(native, "build", broken)
    monkeypatch.setattr(native, "_builds", {})
    native.set_enabled(True)
    xp, h0, w_hh, b_hh = gru_inputs(2, 3, 4, dtype=torch.float32, bias=True, seed=1)
    y, _ = explicit_gru(xp, h0, w_hh, b_hh)
    explicit_gru(xp, h0, w_hh, b_hh)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rnnkit: compiled GRU loops unavailable (Error building extension); "
                   "using the Python loops (same results, slower)"]
    native.set_enabled(False)
    torch.testing.assert_close(y, explicit_gru(xp, h0, w_hh, b_hh)[0])
    native.set_enabled(None)


def test_cache_reuses_a_buffer_after_backward_only():
    cache = BufferCache(max_bytes=1 << 20, min_bytes=0, per_size=2)
    like = torch.empty(0)
    a = cache.take((4, 8), like)
    b = cache.take((4, 8), like)
    assert a.data_ptr() != b.data_ptr()                  # both in use: distinct
    cache.give(a)
    assert cache.take((4, 8), like).data_ptr() != a.data_ptr()    # `a` still holds it
    where = a.data_ptr()
    del a
    c = cache.take((2, 16), like)                        # same size, other shape: reused
    assert c.data_ptr() == where and c.shape == (2, 16)
    assert cache.take((4, 8), like).data_ptr() not in (where, b.data_ptr())
    cache.give(torch.empty(1 << 19))                     # 2 MiB: over the limit, not kept
    assert cache.nbytes == 0
    cache.give(b, torch.empty(4, 8, dtype=torch.float64))
    assert cache.take((32,), torch.empty(0, dtype=torch.float64)).dtype == torch.float64
    cache.give(*(torch.empty(32) for _ in range(5)))     # at most per_size of one size
    assert cache.nbytes == 2 * 32 * 4
    cache.set_limit(32 * 4)
    assert cache.nbytes == 32 * 4
    cache.clear()
    assert cache.nbytes == 0
    small = BufferCache(min_bytes=1 << 10)
    small.give(torch.empty(8))                           # under min_bytes: left to malloc
    assert small.nbytes == 0


@pytest.mark.parametrize("use_native", [True, False])
def test_two_forwards_before_backward_and_a_retained_graph(use_native, request):
    """Buffers are reused only when nothing else holds them: two forwards through the same
    layer before one backward, and a graph retained across another forward and backward, both
    give the gradients torch.nn.GRU gives."""
    request.getfixturevalue("compiled_gru" if use_native else "python_loops")
    CACHE.clear()
    torch.manual_seed(2)
    ref = torch.nn.GRU(3, 256, batch_first=True)         # buffers large enough to be cached
    mine = rn.from_torch(ref, path="explicit")
    x1, x2 = torch.randn(4, 64, 3), torch.randn(4, 64, 3)

    def check(loss_of):
        mine.zero_grad()
        loss_of(mine).backward()
        grads = torch.autograd.grad(loss_of(ref), list(ref.parameters()))
        for p, g in zip(mine.parameters(), grads):
            torch.testing.assert_close(p.grad, g, atol=1e-4, rtol=1e-4)

    check(lambda m: m(x1)[0].pow(2).sum() + m(x2)[0].sin().sum())
    assert CACHE.nbytes > 0                              # the backward gave its buffers back
    kept = mine(x1)[0].pow(2).sum()
    first = torch.autograd.grad(kept, list(mine.parameters()), retain_graph=True)
    check(lambda m: m(x2)[0].sin().sum())                # reuses the cache meanwhile
    again = torch.autograd.grad(kept, list(mine.parameters()))
    for a, b in zip(again, first):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    CACHE.clear()


def test_unshared_sees_views_and_saved_graphs():
    buf = torch.empty(16)
    if _storage_owners(buf) is None:
        pytest.skip("this torch does not report storage owners; the cache never reuses")
    assert unshared(buf)
    view = buf.view(4, 4)
    assert not unshared(buf)
    del view
    assert unshared(buf)


def test_inference_returns_its_buffers():
    CACHE.clear()
    xp, h0, w_hh, b_hh = gru_inputs(4, 64, 256, dtype=torch.float32, bias=True, seed=2)
    with torch.no_grad():
        explicit_gru(xp, h0, w_hh, b_hh)
    assert CACHE.nbytes > 0
    CACHE.clear()


def test_is_built_looks_where_torch_builds(monkeypatch, tmp_path):
    """TORCH_EXTENSIONS_DIR moves torch's build directory; the 'compiling, once' notice must
    follow it (an empty directory has no build)."""
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    assert not native.is_built("gru")
    name = native._build_name("gru")
    (tmp_path / name).mkdir()
    (tmp_path / name / f"{name}.so").write_bytes(b"")
    assert native.is_built("gru")
