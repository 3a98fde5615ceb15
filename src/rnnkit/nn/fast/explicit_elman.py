"""Elman RNN time loop with a hand-written backward pass (explicit backpropagation through time).

The same design as :mod:`rnnkit.nn.fast.explicit_gru`: ONE autograd node for one direction of one
layer, the forward loop under no_grad into a preallocated state buffer, the backward loop at two
ops per step, and dW_hh as one matrix product over all timesteps (Elman 1990; Werbos 1990).

Forward, per step, with xp = x W_ih^T + b_ih given for all steps and phi = tanh or ReLU:

.. math::
    h_t = \\phi(x_t + W_{hh} h_{t-1} + b_{hh})

It saves only the states h (T+1, B, H): phi' is a function of h_t (1 - h_t^2 for tanh,
[h_t > 0] for ReLU). Backward, with g_t = dL/dh_t (output gradient plus what step t+1 passed
back):

.. math::
    da_t &= g_t \\odot \\phi'(h_t) = dx_t \\\\
    g_{t-1} &\\mathrel{+}= da_t W_{hh} \\\\
    dW_{hh} &= \\sum_t da_t^T h_{t-1}, \\quad db_{hh} = \\sum_t da_t

>>> import torch
>>> B, T, H = 2, 5, 4
>>> xp, h0 = torch.randn(B, T, H), torch.zeros(B, H)
>>> y, h_n = explicit_elman(xp, h0, torch.randn(H, H), None, nonlinearity="relu")
>>> y.shape, bool((y >= 0).all())
(torch.Size([2, 5, 4]), True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.nn.fast.buffer_cache import CACHE
from rnnkit.nn.fast.explicit_common import (RecurrentProduct, chunks, finish_forward,
                                       initial_state_grad, new_state_buffer, offsets,
                                       outputs_view, previous_view, state_grads, time_order,
                                       under_autocast, valid_steps, gradient_graph)
from rnnkit.nn.elman import NONLINEARITIES
from rnnkit.nn.recurrence import scan_projected

# phi applied in place, and phi' as a function of phi's output.
ACTIVATIONS = {
    "tanh": (Tensor.tanh_, lambda h: 1.0 - h * h),
    "relu": (Tensor.relu_, lambda h: (h > 0).to(h.dtype)),
}


class ExplicitElman(torch.autograd.Function):
    """One Elman direction over time: (xp, h0, w_hh, b_hh, lengths, reverse, nonlinearity)
    -> (y, h_n).

    xp (B, T, H), h0 (B, H), w_hh (H, H), b_hh (H,) or None, lengths (B,) int64 or None,
    mask (B, H) or None: variational dropout, h_t = phi(x_t + W_hh (m h_{t-1}) + b_hh).
    Returns y (B, T, H), zero at padded steps, and h_n (B, H), the state after each sequence's
    last real step.
    """

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
                lengths: Tensor | None, reverse: bool, nonlinearity: str,
                mask: Tensor | None = None, b_ih: Tensor | None = None) -> tuple[Tensor, Tensor]:
        B, T, _ = xp.shape
        phi_, _ = ACTIVATIONS[nonlinearity]
        valid = valid_steps(lengths, T)                  # (T, B, 1) or None
        with torch.no_grad():
            hs = new_state_buffer(xp, h0, reverse, CACHE.take)    # (T+1, B, H)
            pre = outputs_view(hs, reverse)              # (T, B, H): x_t + b_ih + b_hh
            bias = b_hh if b_ih is None else (b_ih if b_hh is None else b_ih + b_hh)
            if bias is None:
                pre.copy_(xp.transpose(0, 1))
            else:
                torch.add(xp.transpose(0, 1), bias, out=pre)

            product = RecurrentProduct(w_hh, B)          # h_t += h_{t-1} @ W_hh^T
            h = hs.unbind(0)
            us = CACHE.take((T, B, h0.shape[1]), xp) if mask is not None else None  # m h_{t-1}
            u = us.unbind(0) if mask is not None else None
            masks = valid.unbind(0) if valid is not None and reverse else None
            read, write = offsets(reverse)
            for t in time_order(T, reverse):
                prev = h[t + read] if mask is None else torch.mul(h[t + read], mask, out=u[t])
                phi_(product(h[t + write], prev))
                if masks is not None:                    # padded steps hold h0
                    torch.where(masks[t], h[t + write], h0, out=h[t + write])
            y, h_n = finish_forward(hs, lengths, valid, reverse)

        if not any(ctx.needs_input_grad):                # no backward will read them
            CACHE.give(hs, us)
        # the inputs too, for a backward asked for a graph (gradient_graph)
        ctx.save_for_backward(hs, us, xp, h0, w_hh, b_hh, lengths, mask, b_ih)
        ctx.reverse, ctx.has_bias, ctx.nonlinearity = reverse, b_hh is not None, nonlinearity
        ctx.has_input_bias = b_ih is not None
        return y, h_n

    @staticmethod
    def backward(ctx, dy: Tensor, dh_n: Tensor):
        hs, us, *inputs = ctx.saved_tensors
        if torch.is_grad_enabled():                      # create_graph=True: differentiable
            inputs[5:5] = [ctx.reverse, ctx.nonlinearity]
            return tuple(gradient_graph(reference_elman, tuple(inputs), ctx.needs_input_grad,
                                        (dy, dh_n)))
        _, _, w_hh, _, lengths, mask, _ = inputs
        reverse = ctx.reverse
        _, derivative = ACTIVATIONS[ctx.nonlinearity]
        T, B, H = dy.shape[1], dy.shape[0], hs.shape[2]
        valid = valid_steps(lengths, T)
        dhs = state_grads(dy, dh_n, lengths, valid, reverse)      # (T+1, B, H)
        dxp = CACHE.take((B, T, H), dy)                  # project() gives it back
        dw = w_hh.new_zeros(w_hh.shape)                  # (H, H)
        db = w_hh.new_zeros(H)
        out_all, prev_all = outputs_view(hs, reverse), previous_view(hs, reverse)
        read, write = offsets(reverse)
        g = dhs.unbind(0)
        product = RecurrentProduct(w_hh.t(), B)          # g_{t-1} += m * (da_t @ W_hh)
        scratch = dy.new_empty(B, H)

        for t0, t1 in chunks(T, 2 * B * H * hs.element_size(), reverse):
            da = derivative(out_all[t0:t1])              # (Tc, B, H): phi'(h_t), becomes da_t
            if valid is not None:
                da.masked_fill_(~valid[t0:t1], 0.0)
            da_t = da.unbind(0)
            for i in (range(t1 - t0) if reverse else range(t1 - t0 - 1, -1, -1)):
                t = t0 + i
                product.masked(g[t + read], da_t[i].mul_(g[t + write]), mask, scratch)

            u = prev_all[t0:t1] if mask is None else us[t0:t1]         # what W_hh multiplied
            dw.addmm_(da.reshape(-1, H).t(), u.reshape(-1, H))
            db += da.sum((0, 1))
            dxp[:, t0:t1] = da.transpose(0, 1)

        dh0 = initial_state_grad(dhs, valid, reverse)
        CACHE.give(hs, us)
        return (dxp, dh0, dw, (db if ctx.has_bias else None), None, None, None, None,
                (db if ctx.has_input_bias else None))        # b_ih and b_hh: the same sum


def reference_elman(xp: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
                    lengths: Tensor | None, reverse: bool, nonlinearity: str,
                    mask: Tensor | None = None, b_ih: Tensor | None = None
                    ) -> tuple[Tensor, Tensor]:
    """:class:`ExplicitElman`'s forward as autograd ops over
    :func:`~rnnkit.nn.recurrence.scan_projected`: what its backward differentiates when asked
    for a graph."""
    phi = NONLINEARITIES[nonlinearity]

    def step(xp_t: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        h = phi(xp_t + F.linear(h if mask is None else h * mask, w_hh, b_hh))
        return h, h

    return scan_projected(step, xp if b_ih is None else xp + b_ih, h0, lengths=lengths,
                          reverse=reverse)


def explicit_elman(xp: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None, *,
                   lengths: Tensor | None = None, reverse: bool = False,
                   nonlinearity: str = "tanh", recurrent_mask: Tensor | None = None,
                   b_ih: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Run :class:`ExplicitElman`: xp (B, T, H), h0 (B, H) -> (y (B, T, H), h_n (B, H)).

    xp is x W_ih^T, with b_ih already added, or given here as ``b_ih`` (added with b_hh inside
    the Function, which saves a pass over xp)."""
    if nonlinearity not in ACTIVATIONS:
        raise RnnkitError(f"nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
    if lengths is not None:
        lengths = lengths.to(device=xp.device, dtype=torch.long)
    return under_autocast(ExplicitElman.apply, xp, h0, w_hh, b_hh, lengths, reverse,
                          nonlinearity, recurrent_mask, b_ih)
