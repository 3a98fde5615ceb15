"""The linear recurrence ``h_t = a_t * h_{t-1} + b_t`` over time: a reference and two fast paths.

minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?", arXiv 2410.01201) compute their
gates from x_t alone, so their whole time loop is this elementwise linear recurrence on
coefficients computed for all timesteps at once. Every function here is batch-first: a, b
(B, T, H), h0 (B, H), and returns every state h (B, T, H).

- :func:`sequential_scan`: the reference, a plain loop under autograd.
- :func:`linear_scan` and :func:`lerp_scan`: the same loop as one autograd node whose backward is
  the reverse scan ``dh_{t-1} = G_{t-1} + a_t * dh_t`` (G the gradient arriving from outside).
  Autograd then records one node instead of T; this is the fast path on CPU, where each step is one
  elementwise op on (B, H). ``lerp_scan(z, c, h0)`` is the form both cells take,
  ``h_t = (1 - z_t) * h_{t-1} + z_t * c_t``, i.e. ``linear_scan(1 - z, z * c, h0)``.
- :func:`log_space_scan`: Heinsen's parallel scan (Heinsen 2023, "Efficient Parallelization of a
  Ubiquitous Sequential Computation", arXiv 2311.06281) for positive a, b given as logs,

  .. math::
      a^*_t = \\sum_{s \\le t} \\log a_s, \\qquad
      \\log h_t = a^*_t + \\operatorname{logcumsumexp}_{s \\le t}(\\log b_s - a^*_s),

  O(log T) deep: the fast path on GPUs.

Precision of the log-space scan. In float32, ``a*_t`` and the logcumsumexp both grow like
``t * mean|log a|`` and cancel in their sum, so log h carries an absolute error of about
``eps * |a*_t|``, which grows with T. So the scan runs in chunks of ``chunk_size`` steps, each
from a zero start, and ``|a*|`` never exceeds one chunk's worth; the carries between chunks are
chained in linear space (a :func:`linear_scan` over the T / chunk_size chunk ends: products of
a <= 1, no cancellation), and ``h_t = local_t + exp(a*_t) * h_start``. The initial state enters
the same way, in linear space, so h0 may be zero or negative. Smaller chunks are more precise and
cost more sequential carry steps (T / chunk_size); gradients lose somewhat more than outputs (the
same cancellation, summed over T by the weight gradients). The default, 32, keeps float32
outputs at T=4096 within :data:`FLOAT32_TOLERANCE` of float64 and gradients within
:data:`FLOAT32_GRAD_TOLERANCE`, as the tests hold them; docs/benchmarks.md has the errors
measured per chunk size.

Positivity: log space needs b > 0, so minGRU's candidate goes through :func:`g`, positive and
linear for x >= 0 (the paper's section 3.1 and appendix B.3); :func:`log_g` is log(g) computed
without forming g.

>>> import torch
>>> a, b, h0 = torch.rand(2, 10, 3), torch.rand(2, 10, 3), torch.randn(2, 3)
>>> h = log_space_scan(a.log(), b.log(), h0, chunk_size=4)
>>> torch.allclose(h, sequential_scan(a, b, h0), atol=1e-5)
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

# Largest |h_float32 - h_float64| / max|h| the tests accept from log_space_scan at T = 4096,
# and the same for every gradient of a cell run through it.
FLOAT32_TOLERANCE = 2e-5
FLOAT32_GRAD_TOLERANCE = 5e-5


class _G(torch.autograd.Function):
    """g as ``relu(x) + sigmoid(min(x, 0))``, with g' = 1 (x > 0) or s * (1 - s), s = sigmoid(x).

    Written with clamps and ``sign`` rather than ``torch.where``: on CPU, ops on boolean masks
    run slower than plain arithmetic. At x = 0 the gradient is the left
    derivative, 1/4 (``relu``'s convention).
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        s = torch.sigmoid(x.clamp(max=0))               # sigmoid(x) below 0, 1/2 above
        ctx.save_for_backward(x, s)
        return s + x.clamp(min=0)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tensor:
        x, s = ctx.saved_tensors
        slope = torch.addcmul(s, s, s, value=-1)         # s * (1 - s): 1/4 above 0
        slope.add_(torch.sign(x.clamp(min=0)), alpha=0.75)                    # 1 above 0
        return grad * slope


def g(x: Tensor) -> Tensor:
    """``x + 0.5`` for x >= 0, ``sigmoid(x)`` below: positive, continuous, linear for large x."""
    return _G.apply(x)


def log_g(x: Tensor) -> Tensor:
    """``log(g(x))`` without forming g: ``log(x + 0.5)`` or ``logsigmoid(x)``, as
    ``log1p(2 relu(x)) + logsigmoid(min(x, 0))``; at 0, the left derivative like :func:`g`."""
    return torch.log1p(2 * F.relu(x)) + F.logsigmoid(x.clamp(max=0))


def sequential_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """The reference: ``h_t = a_t * h_{t-1} + b_t`` step by step; a, b (B, T, H), h0 (B, H)."""
    h, states = h0, []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):      # each (B, H)
        h = torch.addcmul(b_t, a_t, h)
        states.append(h)
    return torch.stack(states, dim=1)                  # (B, T, H)


def _reverse_scan(a: Tensor, grad_h: Tensor) -> Tensor:
    """The gradient reaching every h_t (B, T, H): dh_t = G_t + a_{t+1} * dh_{t+1}, from the end."""
    dh = torch.empty_like(grad_h, memory_format=torch.contiguous_format)
    dh_, grad_, a_next = dh.unbind(1), grad_h.unbind(1), a.unbind(1)[1:]   # each (B, H)
    carry = dh_[-1].copy_(grad_[-1])
    for dh_t, grad_t, a_t in zip(reversed(dh_[:-1]), reversed(grad_[:-1]), reversed(a_next)):
        carry = torch.addcmul(grad_t, a_t, carry, out=dh_t)
    return dh


def _times_previous(x: Tensor, h: Tensor, h0: Tensor, op) -> Tensor:
    """``op(x_t, h_{t-1})`` for every t, h_{-1} = h0, without concatenating h0 and h: (B, T, H)."""
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    op(x[:, 1:], h[:, :-1], out=out[:, 1:])
    op(x[:, 0], h0, out=out[:, 0])
    return out


class _LinearScan(torch.autograd.Function):
    """``h_t = a_t * h_{t-1} + b_t`` as one node: dL/db_t = dh_t, dL/da_t = dh_t * h_{t-1}.

    The backward is written with plain tensors (``once_differentiable``): a second derivative
    through it raises instead of silently coming out wrong. Likewise for the other Functions here.
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        h = torch.empty_like(b, memory_format=torch.contiguous_format)
        prev = h0
        for a_t, b_t, h_t in zip(a.unbind(1), b.unbind(1), h.unbind(1)):   # each (B, H)
            prev = torch.addcmul(b_t, a_t, prev, out=h_t)
        ctx.save_for_backward(a, h0, h)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: Tensor):
        a, h0, h = ctx.saved_tensors
        dh = _reverse_scan(a, grad_h)
        return _times_previous(dh, h, h0, torch.mul), dh, a[:, 0] * dh[:, 0]


class _LerpScan(torch.autograd.Function):
    """``h_t = lerp(h_{t-1}, c_t, z_t)`` as one node: a_t = 1 - z_t, dL/dc_t = dh_t * z_t and
    dL/dz_t = dh_t * (c_t - h_{t-1})."""

    @staticmethod
    def forward(ctx, z: Tensor, c: Tensor, h0: Tensor) -> Tensor:
        h = torch.empty_like(c, memory_format=torch.contiguous_format)
        prev = h0
        for z_t, c_t, h_t in zip(z.unbind(1), c.unbind(1), h.unbind(1)):   # each (B, H)
            prev = torch.lerp(prev, c_t, z_t, out=h_t)
        ctx.save_for_backward(z, c, h0, h)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: Tensor):
        z, c, h0, h = ctx.saved_tensors
        a = 1 - z
        dh = _reverse_scan(a, grad_h)
        dz = _times_previous(c, h, h0, torch.sub).mul_(dh)
        return dz, dh * z, a[:, 0] * dh[:, 0]


def _same_dtype(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors cast to their promoted dtype (a Function's loop writes into one buffer)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return tuple(t.to(dtype) for t in tensors)


def linear_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """:func:`sequential_scan`'s numbers as one autograd node with a reverse-scan backward."""
    return _LinearScan.apply(*_same_dtype(a, b, h0))


def lerp_scan(z: Tensor, c: Tensor, h0: Tensor) -> Tensor:
    """``h_t = (1 - z_t) * h_{t-1} + z_t * c_t`` as one autograd node; z, c (B, T, H), h0 (B, H)."""
    return _LerpScan.apply(*_same_dtype(z, c, h0))


def log_space_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None, *,
                   chunk_size: int = 32) -> Tensor:
    """Heinsen's parallel scan in chunks; log a, log b (B, T, H), h0 (B, H) or None for zeros.

    Returns h (B, T, H) in linear space; h0 is in linear space too and may have any sign.
    """
    B, T, H = log_b.shape
    C = min(chunk_size, T)
    pad = -T % C                      # steps after T are never read back: any value will do
    log_a, log_b = (F.pad(v, (0, 0, 0, pad)).reshape(B, -1, C, H) for v in (log_a, log_b))
    a_star = log_a.cumsum(dim=2)                       # (B, n, C, H): log of a's product in chunk
    local = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=2))   # h from a zero start
    decay = torch.exp(a_star)                          # (B, n, C, H): the factor on h_start
    if h0 is None:
        h0 = log_b.new_zeros(B, H)
    ends = linear_scan(decay[:, :, -1], local[:, :, -1], h0)                # (B, n, H)
    starts = torch.cat([h0[:, None], ends[:, :-1]], dim=1)                  # (B, n, H)
    h = torch.addcmul(local, decay, starts[:, :, None])                     # (B, n, C, H)
    return h.view(B, -1, H)[:, :T]                     # (B, T, H)
