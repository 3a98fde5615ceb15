"""The input projection x W^T of an explicit layer, in a reused buffer.

:func:`project` is ``x @ w.T`` (no bias: the explicit GRU adds b_ih inside its loop) as one
autograd node whose output comes from :data:`~rnnkit.nn.fast.buffer_cache.CACHE`, and whose backward
gives its incoming gradient back to the cache once it has used it. The output and its gradient
are B x T x G*H values each, large blocks whose pages, allocated fresh at every step, would be
faulted in again each time (:mod:`rnnkit.nn.fast.buffer_cache`). Backward: dx = g W, dW = g^T x.
Under autocast, or off the CPU, it is plain ``F.linear``. Asked for a graph of its gradient
(``create_graph=True``), the backward is the same two products under autograd, and the incoming
gradient, a node of that graph, is not given back to the cache.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.nn.fast.buffer_cache import CACHE
from rnnkit.nn.fast.explicit_common import autocast_dtype


class Projection(torch.autograd.Function):
    """x (..., I), w (G, I) -> x w^T (..., G), the output in a cached buffer."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor) -> Tensor:
        rows = x.reshape(-1, x.shape[-1])                # (N, I)
        out = CACHE.take((rows.shape[0], w.shape[0]), x)
        torch.mm(rows, w.t(), out=out)
        ctx.save_for_backward(x, w)
        return out.view(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, w = ctx.saved_tensors
        rows = x.reshape(-1, x.shape[-1])                # (N, I)
        g = grad.reshape(-1, w.shape[0])                 # (N, G)
        dx = torch.mm(g, w).view(x.shape) if ctx.needs_input_grad[0] else None
        dw = torch.mm(g.t(), rows) if ctx.needs_input_grad[1] else None
        if not torch.is_grad_enabled():                  # not a node of a gradient's graph
            CACHE.give(grad)                             # reused only once nothing holds it
        return dx, dw


def project(x: Tensor, w: Tensor) -> Tensor:
    """``x @ w.T`` (..., I) -> (..., G) through :class:`Projection` on CPU without autocast."""
    if x.device.type != "cpu" or autocast_dtype(x) is not None or not x.is_floating_point():
        return F.linear(x, w)
    return Projection.apply(x, w)
