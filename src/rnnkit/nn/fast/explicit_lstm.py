"""LSTM time loop with a hand-written backward pass, with optional layer normalisation (Ba et al.
2016, section 3.1) and variational recurrent dropout (Gal & Ghahramani 2016), neither of which
``torch.nn.LSTM`` offers.

The design of :mod:`rnnkit.nn.fast.explicit_gru`: ONE autograd node per layer and direction, the
forward loop under no_grad into preallocated time-major buffers, the backward loop at eight ops
per step (five without layer norm), everything that does not depend on the carried gradients
computed for whole chunks of time around the loop, and dW_hh as one matrix product per chunk.
The loops also run compiled (``csrc/lstm_loops.cpp``, driven by
:mod:`rnnkit.nn.fast.explicit_lstm_compiled`) whenever :mod:`rnnkit.nn.fast.native` built them; the
Python loops here are then the reference the tests tie them to.

Forward, per step (gate order i, f, g, o; :mod:`rnnkit.nn.lstm`, :mod:`rnnkit.nn.ln_lstm`), with
x_t = xp_t + b_hh, where xp = LN(x W_ih^T) + b_ih (or x W_ih^T + b_ih without layer norm) is
given for all steps, m is the recurrent dropout mask (B, H) or 1, and
N(v) = (v - mean(v)) / sqrt(var(v) + eps):

.. math::
    u_t &= m \\odot h_{t-1}, \\quad a_t = W_{hh} u_t \\\\
    [i, f, g, o]_t &= [\\sigma, \\sigma, \\tanh, \\sigma](x_t + \\gamma_{hh} \\odot N(a_t))
        \\quad (\\text{or } x_t + a_t) \\\\
    c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t, \\quad
        k_t = \\tanh(\\gamma_c \\odot N(c_t) + \\beta_c) \\quad (\\text{or } \\tanh c_t) \\\\
    h_t &= o_t \\odot k_t

It saves the activated gates (T, B, 4H), k (T, B, H), the states h and c (T+1, B, H) each, and with
layer norm the raw products a (T, B, 4H) (means and deviations are recomputed per chunk).
Backward, with dh_t the complete gradient of h_t and dc_t the one carried from step t+1, and the
layer-norm backward P(v) = r (v - mean(v) - n mean(v n)) for n = N(a), r = 1/sqrt(var + eps):

.. math::
    \\delta c_t &= dc_t + P_c(\\gamma_c \\odot o_t (1 - k_t^2) \\odot dh_t) \\\\
    dx_t &= [\\delta c_t g_t i_t(1-i_t),\\ \\delta c_t c_{t-1} f_t(1-f_t),\\
        \\delta c_t i_t (1-g_t^2),\\ dh_t k_t o_t(1-o_t)] \\\\
    da_t &= P_a(\\gamma_{hh} \\odot dx_t), \\quad
        dc_{t-1} \\mathrel{+}= \\delta c_t f_t, \\quad dh_{t-1} \\mathrel{+}= m \\odot da_t W_{hh} \\\\
    dW_{hh} &= \\sum_t da_t^T u_t, \\quad d\\gamma_{hh} = \\sum_t dx_t N(a_t), \\quad
        d\\gamma_c, d\\beta_c \\text{ likewise}

Each P is one ``torch.native_layer_norm_backward`` per step (the statistics come from one
``native_layer_norm`` per chunk), so the layer-norm backward adds three ops per step. b_hh only
adds to the pre-activations (before or after layer norm): it is added while xp is copied into the
time-major gate buffer, and db_hh is the sum of dxp.

>>> import torch
>>> B, T, H = 2, 5, 4
>>> xp, h0, c0 = torch.randn(B, T, 4 * H), torch.zeros(B, H), torch.zeros(B, H)
>>> w_hh, gains = torch.randn(4 * H, H), (torch.ones(4 * H), torch.ones(H), torch.zeros(H))
>>> y, (h_n, c_n) = explicit_lstm(xp, (h0, c0), w_hh, layer_norm=gains, reverse=True)
>>> y.shape, c_n.shape
(torch.Size([2, 5, 4]), torch.Size([2, 4]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.nn.fast import native
from rnnkit.nn.fast.explicit_common import (RecurrentProduct, chunks, final_state, finish_forward,
                                       initial_state_grad, new_state_buffer, offsets,
                                       outputs_view, previous_view, state_grads, time_order,
                                       under_autocast, valid_steps, gradient_graph, save_buffers)
from rnnkit.nn.fast.explicit_lstm_compiled import compiled_backward, compiled_forward
from rnnkit.nn.ln_lstm import LN_EPS
from rnnkit.nn.lstm import lstm_update
from rnnkit.nn.recurrence import scan_projected


def normalise(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(N(v), mean(v), 1/sqrt(var + eps)) over the last dimension: (..., n) -> (..., n),
    (..., 1), (..., 1).

    ``torch.native_layer_norm`` without affine parameters: one fused kernel, faster than
    ``var_mean`` and the arithmetic after it (docs/benchmarks.md)."""
    return torch.native_layer_norm(v, (v.shape[-1],), None, None, LN_EPS)


def layer_norm_grad(grad: Tensor, v: Tensor, mean: Tensor, rstd: Tensor, gain: Tensor) -> Tensor:
    """dL/dv of LN(v; gain) given grad = dL/dLN(v), for one step's rows (B, n):
    P(gain * grad) = r (w - mean(w) - N(v) mean(w N(v))) with w = gain * grad.

    ``torch.native_layer_norm_backward``: one fused kernel per step, faster than the same
    projection as two batched products (``bmm`` with the rows [1, N(v)]; docs/benchmarks.md)."""
    return torch.ops.aten.native_layer_norm_backward(grad, v, (v.shape[-1],), mean, rstd, gain,
                                                     None, [True, False, False])[0]


class ExplicitLSTM(torch.autograd.Function):
    """One LSTM direction: (xp, h0, c0, w_hh, b_hh, gain_hh, gain_c, bias_c, mask, lengths,
    reverse) -> (y, h_n, c_n).

    xp (B, T, 4H) with b_ih in it, h0 and c0 (B, H), w_hh (4H, H), b_hh (4H,) or None;
    gain_hh (4H,), gain_c (H,) and bias_c (H,) or None for layer norm, or all None without it;
    mask (B, H) or None; lengths (B,) int64 or None. y is zero at padded steps; (h_n, c_n)
    come from each sequence's last real step.
    """

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
                gain_hh: Tensor | None,
                gain_c: Tensor | None, bias_c: Tensor | None, mask: Tensor | None,
                lengths: Tensor | None, reverse: bool) -> tuple[Tensor, Tensor, Tensor]:
        B, T, _ = xp.shape
        H = h0.shape[1]
        layer_norm = gain_hh is not None
        valid = valid_steps(lengths, T)                  # (T, B, 1) or None
        ctx.reverse, ctx.has_b_hh = reverse, b_hh is not None
        ctx.has_bias_c = bias_c is not None
        loops = native.loops_for("lstm", xp, h0, c0, w_hh, b_hh, gain_hh, gain_c, bias_c, mask)
        ctx.compiled = loops is not None
        if loops is not None:
            with torch.no_grad():
                return compiled_forward(ctx, loops, xp, h0, c0, w_hh, b_hh, gain_hh, gain_c,
                                        bias_c, mask, lengths, valid, reverse)
        with torch.no_grad():
            gates = xp.new_empty(T, B, 4 * H)            # x_t, then the activated gates
            if b_hh is None:
                gates.copy_(xp.transpose(0, 1))
            else:
                torch.add(xp.transpose(0, 1), b_hh, out=gates)
            raw = xp.new_empty(T, B, 4 * H) if layer_norm else None    # a_t
            us = xp.new_empty(T, B, H) if mask is not None else None   # u_t = m * h_{t-1}
            ks = xp.new_empty(T, B, H)                   # k_t = tanh(LN(c_t)) or tanh(c_t)
            hs, cs = new_state_buffer(xp, h0, reverse), new_state_buffer(xp, c0, reverse)

            product = RecurrentProduct(w_hh, B)          # acc += u_t @ W_hh^T
            pre, a = gates.unbind(0), (raw.unbind(0) if layer_norm else None)
            i_f, g, o = (gates[..., s].unbind(0) for s in
                         (slice(0, 2 * H), slice(2 * H, 3 * H), slice(3 * H, None)))
            i, f = gates[..., :H].unbind(0), gates[..., H:2 * H].unbind(0)
            h, c, k = hs.unbind(0), cs.unbind(0), ks.unbind(0)
            u = us.unbind(0) if mask is not None else None
            masks = valid.unbind(0) if valid is not None and reverse else None
            read, write = offsets(reverse)
            for t in time_order(T, reverse):
                prev = h[t + read] if mask is None else torch.mul(h[t + read], mask, out=u[t])
                if layer_norm:
                    pre[t].add_(F.layer_norm(product.into(a[t], prev), (4 * H,), gain_hh,
                                             None, LN_EPS))
                else:
                    product(pre[t], prev)
                i_f[t].sigmoid_()
                o[t].sigmoid_()
                g[t].tanh_()
                torch.mul(f[t], c[t + read], out=c[t + write]).addcmul_(i[t], g[t])
                cell = (F.layer_norm(c[t + write], (H,), gain_c, bias_c, LN_EPS)
                        if layer_norm else c[t + write])
                torch.mul(o[t], torch.tanh(cell, out=k[t]), out=h[t + write])
                if masks is not None:                    # padded steps hold (h0, c0)
                    torch.where(masks[t], h[t + write], h0, out=h[t + write])
                    torch.where(masks[t], c[t + write], c0, out=c[t + write])
            y, h_n = finish_forward(hs, lengths, valid, reverse)
            c_n = final_state(cs, lengths, valid, reverse)

        save_buffers(ctx, (gates, raw, us, ks, hs, cs),
                     (xp, h0, c0, w_hh, b_hh, gain_hh, gain_c, bias_c, mask, lengths))
        return y, h_n, c_n

    @staticmethod
    def backward(ctx, dy: Tensor, dh_n: Tensor, dc_n: Tensor):
        saved = ctx.saved_tensors
        buffers, inputs = saved[:ctx.buffer_count], saved[ctx.buffer_count:]
        if torch.is_grad_enabled():                      # create_graph=True: differentiable
            return tuple(gradient_graph(reference_lstm, (*inputs, ctx.reverse),
                                        ctx.needs_input_grad, (dy, dh_n, dc_n)))
        if ctx.compiled:
            return compiled_backward(ctx, buffers, inputs, dy, dh_n, dc_n)
        gates, raw, us, ks, hs, cs = buffers
        _, _, _, w_hh, _, gain_hh, gain_c, _, mask, lengths = inputs
        reverse, layer_norm = ctx.reverse, gain_hh is not None
        T, B, H = ks.shape
        valid = valid_steps(lengths, T)
        dhs = state_grads(dy, dh_n, lengths, valid, reverse)              # (T+1, B, H)
        dcs = state_grads(dy.new_zeros(()).expand(dy.shape), dc_n, lengths, valid, reverse)
        dxp = dy.new_empty(B, T, 4 * H)
        dw = w_hh.new_zeros(w_hh.shape)                  # (4H, H)
        grads = [torch.zeros_like(p) for p in (gain_hh, gain_c, gain_c)] if layer_norm else []
        h_prev, c_prev = previous_view(hs, reverse), previous_view(cs, reverse)
        c_out = outputs_view(cs, reverse)
        read, write = offsets(reverse)
        gh, gc = dhs.unbind(0), dcs.unbind(0)
        gc_rows = dcs[:, :, None].unbind(0)                                       # (B, 1, H)
        product = RecurrentProduct(w_hh.t(), B)          # dh_{t-1} += m * (da_t @ W_hh)
        scratch = dy.new_empty(B, H)
        per_step = (12 + (10 if layer_norm else 0)) * B * H * gates.element_size()

        for t0, t1 in chunks(T, per_step, reverse):
            n = t1 - t0
            i, f, g, o = gates[t0:t1].view(n, B, 4, H).unbind(2)          # each (n, B, H)
            k = ks[t0:t1]
            coef = gates.new_empty(n, B, 4, H)           # becomes dx_t
            q_i, q_f, q_g, q_o = coef.unbind(2)
            torch.mul(torch.addcmul(i, i, i, value=-1.0), g, out=q_i)     # g i (1 - i)
            torch.mul(torch.addcmul(f, f, f, value=-1.0), c_prev[t0:t1], out=q_f)
            torch.addcmul(i, i, g * g, value=-1.0, out=q_g)                # i (1 - g^2)
            torch.mul(torch.addcmul(o, o, o, value=-1.0), k, out=q_o)     # k o (1 - o)
            dk = torch.addcmul(o, o, k * k, value=-1.0)  # o (1 - k^2): dc from dh, before LN
            carry = f.clone() if valid is not None else f
            if valid is not None:
                for tensor in (coef, dk[:, :, None], carry[:, :, None]):
                    tensor.masked_fill_(~valid[t0:t1, :, :, None], 0.0)
            if layer_norm:
                c_norm, c_mean, c_rstd = normalise(c_out[t0:t1])       # (n, B, H), (n, B, 1)
                a_norm, a_mean, a_rstd = normalise(raw[t0:t1])         # (n, B, 4H), (n, B, 1)
                # da_t per step; the fused backward has no out=, so they are stacked once
                # per chunk for dW_hh
                das: list[Tensor | None] = [None] * n
                d_ln_c = gates.new_empty(B, H)                        # dL/dLN(c_t)
            e_cg = coef[:, :, :3].unbind(0)              # (B, 3, H): the dc-scaled gates
            e_o = coef[:, :, 3].unbind(0)
            dx = coef.view(n, B, 4 * H)
            dx_t = dx.unbind(0)
            dk_t, carry_t = dk.unbind(0), carry.unbind(0)
            for s in (range(n) if reverse else range(n - 1, -1, -1)):
                t = t0 + s
                if layer_norm:
                    torch.mul(gh[t + write], dk_t[s], out=d_ln_c)
                    gc[t + write].add_(layer_norm_grad(d_ln_c, c_out[t], c_mean[s], c_rstd[s],
                                                       gain_c))
                else:
                    gc[t + write].addcmul_(gh[t + write], dk_t[s])
                e_cg[s].mul_(gc_rows[t + write])
                e_o[s].mul_(gh[t + write])
                gc[t + read].addcmul_(gc[t + write], carry_t[s])
                if layer_norm:
                    da = das[s] = layer_norm_grad(dx_t[s], raw[t], a_mean[s], a_rstd[s],
                                                  gain_hh)
                else:
                    da = dx_t[s]
                product.masked(gh[t + read], da, mask, scratch)

            da_all = torch.stack(das) if layer_norm else dx          # (n, B, 4H)
            u = us[t0:t1] if mask is not None else h_prev[t0:t1]
            dw.addmm_(da_all.reshape(-1, 4 * H).t(), u.reshape(-1, H))   # (4H, nB) @ (nB, H)
            dxp[:, t0:t1] = dx.transpose(0, 1)
            if layer_norm:
                dcn = dhs[t0 + write:t1 + write] * dk    # d(LN(c) output), (n, B, H)
                grads[0] += (dx * a_norm).sum((0, 1))
                grads[1] += (dcn * c_norm).sum((0, 1))
                grads[2] += dcn.sum((0, 1))

        dh0 = initial_state_grad(dhs, valid, reverse)
        dc0 = initial_state_grad(dcs, valid, reverse)
        d_gain_hh, d_gain_c, d_bias_c = grads if layer_norm else (None, None, None)
        if not ctx.has_bias_c:
            d_bias_c = None
        db_hh = dxp.sum((0, 1)) if ctx.has_b_hh else None
        return dxp, dh0, dc0, dw, db_hh, d_gain_hh, d_gain_c, d_bias_c, None, None, None


def reference_lstm(xp: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
                   gain_hh: Tensor | None, gain_c: Tensor | None, bias_c: Tensor | None,
                   mask: Tensor | None, lengths: Tensor | None, reverse: bool
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """:class:`ExplicitLSTM`'s forward as autograd ops (:func:`~rnnkit.nn.lstm.lstm_update`
    over :func:`~rnnkit.nn.recurrence.scan_projected`): what its backward differentiates when
    asked for a graph."""
    H = h0.shape[-1]

    def layer_norm_c(c: Tensor) -> Tensor:
        return F.layer_norm(c, (H,), gain_c, bias_c, LN_EPS)

    normalise_c = layer_norm_c if gain_hh is not None else None

    def step(xp_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state
        a = F.linear(h if mask is None else h * mask, w_hh)                 # (B, 4H)
        a = (F.layer_norm(a, (4 * H,), gain_hh, b_hh, LN_EPS) if gain_hh is not None
             else a if b_hh is None else a + b_hh)
        h, c = lstm_update(xp_t + a, c, normalise_c)
        return h, (h, c)

    y, (h_n, c_n) = scan_projected(step, xp, (h0, c0), lengths=lengths, reverse=reverse)
    return y, h_n, c_n


def explicit_lstm(xp: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor, *,
                  b_hh: Tensor | None = None,
                  layer_norm: tuple[Tensor, Tensor, Tensor | None] | None = None,
                  recurrent_mask: Tensor | None = None, lengths: Tensor | None = None,
                  reverse: bool = False) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Run :class:`ExplicitLSTM`: xp (B, T, 4H) with b_ih, state (h0, c0) each (B, H), b_hh
    (4H,) or None, ``layer_norm`` = (gain_hh, gain_c, bias_c) or None ->
    (y (B, T, H), (h_n, c_n))."""
    if lengths is not None:
        lengths = lengths.to(device=xp.device, dtype=torch.long)
    gain_hh, gain_c, bias_c = layer_norm if layer_norm is not None else (None, None, None)
    # Layer norm in bfloat16 drifts from float32 in outputs and gradients (docs/benchmarks.md), so
    # the layer-norm LSTM stays float32 under autocast, as autocast keeps its own normalisations.
    y, h_n, c_n = under_autocast(ExplicitLSTM.apply, xp, *state, w_hh, b_hh, gain_hh, gain_c,
                                 bias_c, recurrent_mask, lengths, reverse,
                                 keep_float32=layer_norm is not None)
    return y, (h_n, c_n)
