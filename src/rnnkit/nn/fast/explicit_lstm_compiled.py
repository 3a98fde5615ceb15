"""The explicit LSTM's compiled time loops (``csrc/lstm_loops.cpp``) driven from
:class:`~rnnkit.nn.fast.explicit_lstm.ExplicitLSTM`: buffers from the cache, the saved layout (the
normalised products and cells with their 1/std instead of the raw products), and the gradients
the compiled backward returns. The equations are :mod:`rnnkit.nn.fast.explicit_lstm`'s; its Python
loops are the reference (tests/test_native_lstm.py).
"""

from __future__ import annotations

from torch import Tensor

from rnnkit.nn.fast.buffer_cache import CACHE
from rnnkit.nn.fast.explicit_common import (RecurrentProduct, chunk_steps, final_state,
                                       new_state_buffer, save_buffers, steps_by_batch,
                                       valid_steps)
from rnnkit.nn.ln_lstm import LN_EPS


def compiled_forward(ctx, loops, xp: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor,
                     b_hh: Tensor | None, gain_hh: Tensor | None, gain_c: Tensor | None,
                     bias_c: Tensor | None, mask: Tensor | None, lengths: Tensor | None,
                     valid: Tensor | None, reverse: bool) -> tuple[Tensor, Tensor, Tensor]:
    """ExplicitLSTM.forward through ``csrc/lstm_loops.cpp``: the same outputs, and saved buffers
    in its layout (the normalised products and cells with their 1/std, not the raw products)."""
    B, T, _ = xp.shape
    H = h0.shape[1]
    take = CACHE.take
    gates, ks = take((T, B, 4 * H), xp), take((T, B, H), xp)
    hs, cs = new_state_buffer(xp, h0, reverse, take), new_state_buffer(xp, c0, reverse, take)
    us = take((T, B, H), xp) if mask is not None else None
    norm = ((take((T, B, 4 * H), xp), take((T, B), xp), take((T, B, H), xp), take((T, B), xp))
            if gain_hh is not None else (None, None, None, None))    # N(a), 1/std, N(c), 1/std
    y = xp.new_empty(B, T, H)
    product = RecurrentProduct(w_hh, B)
    mask = mask.contiguous() if mask is not None else None
    ctx.loops = loops                                    # the backward runs the same build
    loops.forward(xp.contiguous(), b_hh, y, gates, ks, hs, cs, product.weight, product.packed,
                  mask, us, steps_by_batch(valid), reverse, gain_hh, gain_c, bias_c, *norm,
                  LN_EPS)
    h_n, c_n = final_state(hs, lengths, valid, reverse), final_state(cs, lengths, valid, reverse)
    buffers = (gates, ks, hs, cs, us, *norm)
    if not any(ctx.needs_input_grad):
        CACHE.give(*buffers)
    save_buffers(ctx, buffers, (xp, h0, c0, w_hh, b_hh, gain_hh, gain_c, bias_c, mask, lengths))
    return y, h_n, c_n


def compiled_backward(ctx, buffers: tuple, inputs: tuple, dy: Tensor, dh_n: Tensor,
                      dc_n: Tensor):
    """ExplicitLSTM.backward through ``csrc/lstm_loops.cpp``, from :func:`compiled_forward`'s
    buffers and the Function's inputs; the bias and gain gradients are summed inside the loop."""
    gates, ks, hs, cs, us, an, rs_a, cn, rs_c = buffers
    _, _, _, w_hh, _, gain_hh, gain_c, _, mask, lengths = inputs
    T, B, H = ks.shape
    dxp = dy.new_empty(B, T, 4 * H)
    dw = w_hh.new_zeros(w_hh.shape)                      # (4H, H)
    product = RecurrentProduct(w_hh.t(), B)              # dh_{t-1} += m * (da_t @ W_hh)
    da = CACHE.take((chunk_steps(T, B, 4 * H, gates), B, 4 * H), gates)
    dh0, dc0, sums = ctx.loops.backward(
        gates, ks, hs, cs, dy.contiguous(), dh_n.contiguous(), dc_n.contiguous(), dxp, dw,
        product.weight, product.packed, mask, us, steps_by_batch(valid_steps(lengths, T)),
        ctx.reverse, gain_hh, gain_c, None, an, rs_a, cn, rs_c, da)
    CACHE.give(da, gates, ks, hs, cs, us, an, rs_a, cn, rs_c)
    db_hh = sums[:4 * H] if ctx.has_b_hh else None
    layer_norm = gain_hh is not None
    d_gain_hh = sums[4 * H:8 * H] if layer_norm else None
    d_gain_c = sums[8 * H:9 * H] if layer_norm else None
    d_bias_c = sums[9 * H:] if layer_norm and ctx.has_bias_c else None
    return dxp, dh0, dc0, dw, db_hh, d_gain_hh, d_gain_c, d_bias_c, None, None, None
