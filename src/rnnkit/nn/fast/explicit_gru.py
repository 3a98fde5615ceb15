"""GRU time loop with a hand-written backward pass (explicit backpropagation through time).

Under autograd, a time loop records about ten nodes per step and its backward replays them one by
one, each with its own dispatch and allocation; ``torch.nn.GRU`` on CPU does the same in C++.
:class:`ExplicitGRU` is ONE autograd node for one direction of one layer: its forward runs the
loop under no_grad into preallocated buffers, and its backward runs the recurrence back in time
with three ops per step, everything that does not depend on the carried gradient being computed
for whole chunks of time before the loop, and the weight gradient as one matrix product after it
(Werbos 1990, "Backpropagation Through Time: What It Does and How to Do It").

Forward, per step (gate order r, z, n; ``torch.nn.GRU``'s formulation, see :mod:`rnnkit.nn.gru`),
with xp = x W_ih^T + b_ih given for all steps:

.. math::
    a_t &= W_{hh} h_{t-1} + b_{hh} = [a^r_t, a^z_t, a^n_t] \\\\
    r_t &= \\sigma(x^r_t + a^r_t), \\quad z_t = \\sigma(x^z_t + a^z_t) \\\\
    n_t &= \\tanh(x^n_t + r_t \\odot a^n_t) \\\\
    h_t &= n_t + z_t \\odot (h_{t-1} - n_t)

It saves r, z, a^n (one (T, B, 3H) buffer), n (T, B, H) and the states h (T+1, B, H).
Backward, with g_t = dL/dh_t (output gradient plus what step t+1 passed back):

.. math::
    c^n_t &= (1 - z_t) \\odot (1 - n_t^2) \\\\
    dx^n_t &= g_t \\odot c^n_t, \\quad
        dx^r_t = da^r_t = g_t \\odot c^n_t \\odot a^n_t \\odot r_t (1 - r_t) \\\\
    dx^z_t &= da^z_t = g_t \\odot (h_{t-1} - n_t) \\odot z_t (1 - z_t), \\quad
        da^n_t = g_t \\odot c^n_t \\odot r_t \\\\
    g_{t-1} &\\mathrel{+}= g_t \\odot z_t + da_t W_{hh} \\\\
    dW_{hh} &= \\sum_t da_t^T h_{t-1}, \\quad db_{hh} = \\sum_t da_t

Every right-hand side is g_t times a coefficient known before the loop, so the loop does
``E_t = C_t * g_t`` (C_t = [c^r, c^z, c^n r, z], (B, 4, H)), ``g_{t-1} += E^z_t`` and
``g_{t-1} += E^{rzn}_t W_hh``; dW_hh is ONE (3H, B*T) @ (B*T, H) product (one per chunk of time
when the coefficients would not fit in :data:`~rnnkit.nn.fast.explicit_common.CHUNK_BYTES`).

**Two implementations of the loops, one layout.** ``csrc/gru_loops.cpp`` (built by
:mod:`rnnkit.nn.fast.native`) runs each step as its product plus one fused pass over the batch rows
and is used whenever it is built and the tensors are CPU float32/float64; the Python loops below
(:func:`_forward_loop`, :func:`_backward_loop`) are the fallback and the reference the tests tie
it to. Both save the same buffers, taken from :data:`~rnnkit.nn.fast.buffer_cache.CACHE`.

>>> import torch
>>> B, T, H = 2, 5, 4
>>> xp, h0 = torch.randn(B, T, 3 * H), torch.zeros(B, H)
>>> w_hh, b_hh = torch.randn(3 * H, H), torch.randn(3 * H)
>>> y, h_n = explicit_gru(xp, h0, w_hh, b_hh, reverse=True)
>>> y.shape, h_n.shape
(torch.Size([2, 5, 4]), torch.Size([2, 4]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.nn.fast import native
from rnnkit.nn.fast.buffer_cache import CACHE
from rnnkit.nn.fast.explicit_common import (RecurrentProduct, chunk_steps, chunks, final_state,
                                       finish_forward,
                                       initial_state_grad, new_state_buffer, offsets,
                                       previous_view, state_grads, steps_by_batch, time_order,
                                       under_autocast, valid_steps, gradient_graph)
from rnnkit.nn.gru import gru_update
from rnnkit.nn.recurrence import scan_projected


class ExplicitGRU(torch.autograd.Function):
    """One GRU direction over time: (xp, h0, w_hh, b_hh, lengths, reverse, mask) -> (y, h_n).

    xp (B, T, 3H), h0 (B, H), w_hh (3H, H), b_hh (3H,) or None, lengths (B,) int64 or None,
    mask (B, H) or None: variational dropout on h_{t-1} where it enters W_hh only
    (a_t = W_hh (m h_{t-1}) + b_hh; then dW_hh uses m h_{t-1} and g_{t-1} += m (da_t W_hh)).
    Returns y (B, T, H), zero at padded steps, and h_n (B, H), the state after each sequence's
    last real step.
    """

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
                lengths: Tensor | None, reverse: bool, mask: Tensor | None = None,
                b_ih: Tensor | None = None) -> tuple[Tensor, Tensor]:
        B, T, _ = xp.shape
        H = h0.shape[1]
        valid = valid_steps(lengths, T)                  # (T, B, 1) or None
        with torch.no_grad():
            hs = new_state_buffer(xp, h0, reverse, CACHE.take)    # (T+1, B, H)
            us = CACHE.take((T, B, H), xp) if mask is not None else None   # m * h_{t-1}
            product = RecurrentProduct(w_hh, B)          # a_t = h_{t-1} @ W_hh^T
            loops = native.loops_for("gru", xp, h0, w_hh, b_hh, b_ih, mask)
            if loops is not None:
                mask = mask.contiguous() if mask is not None else None
                gates, cand = CACHE.take((T, B, 3 * H), xp), CACHE.take((T, B, H), xp)
                y = xp.new_empty(B, T, H)
                loops.forward(xp.contiguous(), step_bias(b_ih, b_hh, xp), y, gates, cand, hs,
                              product.weight, product.packed, mask, us, steps_by_batch(valid),
                              reverse)
                h_n = final_state(hs, lengths, valid, reverse)
            else:
                gates, cand = _prefill(xp, b_hh, b_ih)
                _forward_loop(gates, cand, hs, h0, product, mask, us, valid, reverse)
                y, h_n = finish_forward(hs, lengths, valid, reverse)

        if not any(ctx.needs_input_grad):                # no backward will read them
            CACHE.give(gates, cand, hs, us)
        # the inputs too, for a backward asked for a graph (gradient_graph)
        ctx.save_for_backward(gates, cand, hs, us, xp, h0, w_hh, b_hh, lengths, mask, b_ih)
        ctx.reverse = reverse
        ctx.has_bias, ctx.has_input_bias = b_hh is not None, b_ih is not None
        return y, h_n

    @staticmethod
    def backward(ctx, dy: Tensor, dh_n: Tensor):
        gates, cand, hs, us, *inputs = ctx.saved_tensors
        if torch.is_grad_enabled():                      # create_graph=True: differentiable
            inputs.insert(5, ctx.reverse)                # xp, h0, w_hh, b_hh, lengths, reverse,
            return tuple(gradient_graph(reference_gru, tuple(inputs),   # mask, b_ih
                                        ctx.needs_input_grad, (dy, dh_n)))
        _, _, w_hh, _, lengths, mask, _ = inputs
        reverse = ctx.reverse
        T, B, H = cand.shape
        valid = valid_steps(lengths, T)
        dxp = CACHE.take((B, T, 3 * H), dy)              # project() gives it back
        dw = w_hh.new_zeros(w_hh.shape)                  # (3H, H)
        product = RecurrentProduct(w_hh.t(), B)          # g_{t-1} += m * (da_t @ W_hh)
        loops = native.loops_for("gru", gates, w_hh, dy, dh_n, mask)
        if loops is not None:
            da = CACHE.take((chunk_steps(T, B, 3 * H, gates), B, 3 * H), gates)
            dh0, sums = loops.backward(gates, cand, hs, dy.contiguous(), dh_n.contiguous(), dxp,
                                       dw, product.weight, product.packed, mask, us,
                                       steps_by_batch(valid), reverse, da)
            CACHE.give(da)
            db_ih = sums[:3 * H]                         # sum of dxp, summed in the loop
            db = torch.cat([sums[:2 * H], sums[3 * H:]])  # r, z as b_ih's; sum of da^n
        else:
            dhs = state_grads(dy, dh_n, lengths, valid, reverse)  # (T+1, B, H)
            db = w_hh.new_zeros(3 * H)
            _backward_loop(gates, cand, hs, dhs, dxp, dw, db, product, mask, us, valid, reverse)
            dh0 = initial_state_grad(dhs, valid, reverse)
            db_ih = dxp.sum((0, 1)) if ctx.has_input_bias else None
        CACHE.give(gates, cand, hs, us)
        return (dxp, dh0, dw, (db if ctx.has_bias else None), None, None, None,
                (db_ih if ctx.has_input_bias else None))


def reference_gru(xp: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
                  lengths: Tensor | None, reverse: bool, mask: Tensor | None = None,
                  b_ih: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """:class:`ExplicitGRU`'s forward as autograd ops (:func:`~rnnkit.nn.gru.gru_update` over
    :func:`~rnnkit.nn.recurrence.scan_projected`): what its backward differentiates when asked
    for a graph."""
    def step(xp_t: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        h = gru_update(xp_t, F.linear(h if mask is None else h * mask, w_hh, b_hh), h)
        return h, h

    return scan_projected(step, xp if b_ih is None else xp + b_ih, h0, lengths=lengths,
                          reverse=reverse)


def step_bias(b_ih: Tensor | None, b_hh: Tensor | None, like: Tensor) -> Tensor:
    """The compiled forward's bias (4H,): [b_ih^r + b_hh^r, b_ih^z + b_hh^z, b_hh^n, b_ih^n]
    (b_hh^n sits inside r * (W_hn h + b_hn), b_ih^n outside; a missing bias is zero)."""
    H = like.shape[-1] // 3                              # like: xp (..., 3H)
    zeros = like.new_zeros(3 * H)
    b_ih = zeros if b_ih is None else b_ih
    b_hh = zeros if b_hh is None else b_hh
    return torch.cat([b_ih[:2 * H] + b_hh[:2 * H], b_hh[2 * H:], b_ih[2 * H:]])


def _prefill(xp: Tensor, b_hh: Tensor | None, b_ih: Tensor | None) -> tuple[Tensor, Tensor]:
    """The Python loop's buffers before the loop, time-major: gates (T, B, 3H) =
    [x^r + b^r, x^z + b^z, b_hh^n] (each step adds h_{t-1} W_hh^T) and cand (T, B, H) =
    x^n + b_ih^n."""
    B, T, G = xp.shape
    H = G // 3
    bias = step_bias(b_ih, b_hh, xp)                     # (4H,)
    gates = CACHE.take((T, B, 3 * H), xp)                # r, z, a^n per step
    torch.add(xp[..., :2 * H].transpose(0, 1), bias[:2 * H], out=gates[..., :2 * H])
    gates[..., 2 * H:] = bias[2 * H:3 * H]
    cand = CACHE.take((T, B, H), xp)                     # x^n, then n
    torch.add(xp[..., 2 * H:].transpose(0, 1), bias[3 * H:], out=cand)
    return gates, cand


def _forward_loop(gates: Tensor, cand: Tensor, hs: Tensor, h0: Tensor,
                  product: RecurrentProduct, mask: Tensor | None, us: Tensor | None,
                  valid: Tensor | None, reverse: bool) -> None:
    """The forward time loop in Python, one torch op at a time, in place on the buffers: the
    reference for ``csrc/gru_loops.cpp``'s ``forward``."""
    T, H = gates.shape[0], cand.shape[2]
    a, rz = gates.unbind(0), gates[..., :2 * H].unbind(0)
    r, z = gates[..., :H].unbind(0), gates[..., H:2 * H].unbind(0)
    a_n, n, h = gates[..., 2 * H:].unbind(0), cand.unbind(0), hs.unbind(0)
    u = us.unbind(0) if mask is not None else None
    masks = valid.unbind(0) if valid is not None and reverse else None
    read, write = offsets(reverse)
    for t in time_order(T, reverse):
        prev = h[t + read] if mask is None else torch.mul(h[t + read], mask, out=u[t])
        product(a[t], prev)                              # [x^r + a^r, x^z + a^z, a^n]
        rz[t].sigmoid_()
        n[t].addcmul_(r[t], a_n[t]).tanh_()
        torch.lerp(n[t], h[t + read], z[t], out=h[t + write])
        if masks is not None:                            # padded steps hold h0
            torch.where(masks[t], h[t + write], h0, out=h[t + write])


def _backward_loop(gates: Tensor, cand: Tensor, hs: Tensor, dhs: Tensor, dxp: Tensor,
                   dw: Tensor, db: Tensor, product: RecurrentProduct, mask: Tensor | None,
                   us: Tensor | None, valid: Tensor | None, reverse: bool) -> None:
    """The backward time loop in Python, chunked, in place (dhs carries, dxp written, dw and db
    accumulated): the reference for ``csrc/gru_loops.cpp``'s ``backward``."""
    T, B, H = cand.shape
    prev_all = previous_view(hs, reverse)                    # (T, B, H)
    read, write = offsets(reverse)
    g, g_rows = dhs.unbind(0), dhs[:, :, None].unbind(0)         # (B, H), (B, 1, H) views
    scratch = dhs.new_empty(B, H)
    for t0, t1 in chunks(T, 8 * B * H * gates.element_size(), reverse):
        r, z, a_n = gates[t0:t1].view(t1 - t0, B, 3, H).unbind(2)       # each (Tc, B, H)
        n, prev = cand[t0:t1], prev_all[t0:t1]
        coef = gates.new_empty(t1 - t0, B, 4, H)         # C_t = [c^r, c^z, c^n r, z]
        c_r, c_z, c_nr, c_zz = coef.unbind(2)
        one_z = 1.0 - z
        coef_n = torch.addcmul(one_z, one_z * n, n, value=-1.0)        # (1 - z)(1 - n^2)
        torch.mul(coef_n, r, out=c_nr)
        torch.mul(c_nr, a_n, out=c_r).addcmul_(c_r, r, value=-1.0)      # c^n a^n r (1 - r)
        torch.sub(prev, n, out=c_z).mul_(z).mul_(one_z)                 # (h - n) z (1 - z)
        c_zz.copy_(z)
        if valid is not None:
            coef_n.masked_fill_(~valid[t0:t1], 0.0)
            coef.masked_fill_(~valid[t0:t1, :, :, None], 0.0)
        e = coef.unbind(0)                               # becomes E_t = C_t * g_t
        e_z = coef[:, :, 3].unbind(0)                    # (B, H) each
        e_a = coef.view(t1 - t0, B, 4 * H)[..., :3 * H]                # (Tc, B, 3H): da
        e_a_t = e_a.unbind(0)
        for i in (range(t1 - t0) if reverse else range(t1 - t0 - 1, -1, -1)):
            t = t0 + i
            e[i].mul_(g_rows[t + write])
            g[t + read].add_(e_z[i])
            product.masked(g[t + read], e_a_t[i], mask, scratch)

        u = prev if mask is None else us[t0:t1]         # what W_hh multiplied
        dw.addmm_(e_a.reshape(-1, 3 * H).t(), u.reshape(-1, H))         # (3H, Tc*B) @ (Tc*B, H)
        db += e_a.sum((0, 1))
        g_chunk = dhs[t0 + write:t1 + write]             # (Tc, B, H): g_t
        dxp[:, t0:t1, :2 * H] = e_a[..., :2 * H].transpose(0, 1)
        torch.mul(g_chunk, coef_n, out=dxp[:, t0:t1, 2 * H:].transpose(0, 1))


def explicit_gru(xp: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None, *,
                 lengths: Tensor | None = None, reverse: bool = False,
                 recurrent_mask: Tensor | None = None,
                 b_ih: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Run :class:`ExplicitGRU`: xp (B, T, 3H), h0 (B, H) -> (y (B, T, H), h_n (B, H)).

    xp is x W_ih^T, with b_ih already added, or given here as ``b_ih`` (added inside the loop,
    which saves a pass over xp)."""
    if lengths is not None:
        lengths = lengths.to(device=xp.device, dtype=torch.long)
    return under_autocast(ExplicitGRU.apply, xp, h0, w_hh, b_hh, lengths, reverse,
                          recurrent_mask, b_ih)
