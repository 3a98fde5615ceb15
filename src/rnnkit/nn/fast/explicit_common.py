"""What the explicit-BPTT Functions (:mod:`~rnnkit.nn.fast.explicit_gru`,
:mod:`~rnnkit.nn.fast.explicit_elman`) share: the time-major state buffer, lengths, and chunking.

**The state buffer.** Both Functions keep every state of one direction in ONE time-major buffer
``hs`` (T+1, B, H): the initial state and the T states after each step. Indexed by time t (never
by processing order), a reversed direction needs no flips::

    forward:  hs[0] = h0,  hs[t + 1] = h_t,  so step t reads hs[t] and writes hs[t + 1]
    reverse:  hs[T] = h0,  hs[t]     = h_t,  so step t reads hs[t + 1] and writes hs[t]

and the gradient ``dhs`` (T+1, B, H) has the same layout: before the backward loop it holds the
output and final-state gradients, and the loop adds each step's gradient w.r.t. its previous
state into the slot that step read, so that slot then holds the total gradient of the next step
back in time.

**Lengths** (right-padded batches; the semantics of :func:`rnnkit.nn.recurrence.scan`). Forward
in time, the padded steps of a sequence come after all its real ones, so the loop runs them
unmasked (their states are never read by a real step), the buffer is zeroed there afterwards,
and the final state is gathered at ``hs[lengths[b], b]``: no per-step cost. Reversed, the padded
steps come first and must hold h0, so the loop writes ``where(valid, h_t, h0)`` (one op per step);
the backward adds the gradient that reaches those h0 copies to dh0. Either way the backward zeroes
every per-step coefficient at padded steps, so they contribute nothing and stay NaN-free.

**The per-step product** ``acc += h @ W^T`` is the one matrix product inside each loop
(:class:`RecurrentProduct`).
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor

from rnnkit.nn.fast import onednn
from rnnkit.nn.recurrence import valid_mask

# Bytes of per-step temporaries a backward pass materialises at once; more steps than fit are
# processed in chunks of time, so the temporaries stay in cache and memory stays bounded.
CHUNK_BYTES = 2 * 2**20

# From this many weight elements, on float32 CPU tensors, oneDNN's prepacked product beats
# ``addmm_``, which repacks at every step a weight that no longer fits in cache; below it,
# ``addmm_`` is the faster (per-step timings of both: docs/benchmarks.md).
PACKED_MIN_WEIGHT = 2**18


def autocast_dtype(x: Tensor) -> torch.dtype | None:
    """The dtype autocast lowers products to on ``x``'s device, or None when autocast is off."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None


def under_autocast(function, xp: Tensor, *args, keep_float32: bool = False):
    """Run an explicit-BPTT ``Function.apply(xp, *args)`` under mixed precision
    (``torch.autocast`` on ``xp``'s device).

    Autocast only rewrites the dtype of the ops it lists; inside a custom Function the input
    projections arrive in the low dtype while the weight and the state are float32, and a product
    of the two fails. So, as autocast does for ``torch.lstm``: every floating input (projections,
    state, weight, bias, gains, masks) is cast to the autocast dtype once, the Function runs with
    autocast off (products in bfloat16 with float32 accumulation; elementwise work in bfloat16),
    and the casts route each weight's gradient back to its float32 parameter. Outside autocast
    the call is unchanged. ``keep_float32`` runs it in float32 under autocast instead (autocast's
    own rule for normalisations, whose statistics bfloat16 rounds too coarsely).
    """
    dtype = autocast_dtype(xp)
    if dtype is None:
        return function(xp, *args)
    dtype = torch.float32 if keep_float32 else dtype
    cast = [a.to(dtype) if isinstance(a, Tensor) and a.is_floating_point() else a for a in args]
    with torch.autocast(xp.device.type, enabled=False):
        return function(xp.to(dtype), *cast)


class RecurrentProduct:
    """``acc += h @ weight.T`` for one fixed weight (rows, cols) and a batch of B rows, per step.

    Small products run ``addmm_`` on a contiguous copy of ``weight.T`` (an untransposed operand
    is the faster one at small sizes). From :data:`PACKED_MIN_WEIGHT` weight elements, on
    float32 CPU tensors, the weight is reordered once into oneDNN's blocked layout and each step
    runs oneDNN's prepacked linear, whose result is copied into ``acc``; where those
    torch-internal ops are missing, ``addmm_`` again (:mod:`~rnnkit.nn.fast.onednn`). The tests
    run both branches.
    """

    def __init__(self, weight: Tensor, batch: int) -> None:
        rows, cols = weight.shape
        self.packed = (weight.device.type == "cpu" and weight.dtype == torch.float32
                       and rows * cols >= PACKED_MIN_WEIGHT and onednn.available())
        if self.packed:
            self.weight = onednn.pack(weight, batch)
        else:
            self.weight = weight.t().contiguous()        # (cols, rows)

    def __call__(self, acc: Tensor, h: Tensor) -> Tensor:
        """acc (B, rows) += h (B, cols) @ weight.T, in place; returns acc."""
        if not self.packed:
            return acc.addmm_(h, self.weight)
        return acc.copy_(onednn.linear_add(acc, h, self.weight))

    def into(self, out: Tensor, h: Tensor) -> Tensor:
        """out (B, rows) = h (B, cols) @ weight.T, overwriting ``out``; returns out."""
        if not self.packed:
            return torch.mm(h, self.weight, out=out)
        return out.copy_(onednn.linear(h, self.weight))

    def masked(self, acc: Tensor, h: Tensor, mask: Tensor | None, scratch: Tensor) -> Tensor:
        """acc += mask * (h @ weight.T), through ``scratch`` (B, rows); plain ``acc += h @
        weight.T`` when ``mask`` is None. The backward of variational dropout."""
        if mask is None:
            return self(acc, h)
        return acc.addcmul_(self(scratch.zero_(), h), mask)


def offsets(reverse: bool) -> tuple[int, int]:
    """(read, write) offsets: step t reads ``hs[t + read]`` and writes ``hs[t + write]``."""
    return (1, 0) if reverse else (0, 1)


def time_order(steps: int, reverse: bool) -> range:
    """The timesteps in the order the forward pass visits them."""
    return range(steps - 1, -1, -1) if reverse else range(steps)


def valid_steps(lengths: Tensor | None, steps: int) -> Tensor | None:
    """(T, B, 1) bool, True at real steps (:func:`~rnnkit.nn.recurrence.valid_mask`); None
    without lengths."""
    return None if lengths is None else valid_mask(lengths, steps)


def new_state_buffer(xp: Tensor, h0: Tensor, reverse: bool, allocate=None) -> Tensor:
    """The (T+1, B, H) state buffer with h0 in place; the other slots are left empty.
    ``allocate(shape, like)`` makes it (default: ``like.new_empty(shape)``)."""
    steps = xp.shape[1]
    shape = (steps + 1, *h0.shape)
    hs = xp.new_empty(shape) if allocate is None else allocate(shape, xp)
    hs[steps if reverse else 0] = h0
    return hs


def outputs_view(hs: Tensor, reverse: bool) -> Tensor:
    """The T output slots of ``hs``: (T, B, H), a view."""
    return hs[:-1] if reverse else hs[1:]


def previous_view(hs: Tensor, reverse: bool) -> Tensor:
    """The slot each step reads, for every step: (T, B, H), a view."""
    return hs[1:] if reverse else hs[:-1]


def finish_forward(hs: Tensor, lengths: Tensor | None, valid: Tensor | None,
                   reverse: bool) -> tuple[Tensor, Tensor]:
    """Outputs (B, T, H), zero at padded steps, and the final state (B, H), from ``hs``.

    Forward in time with lengths, this also zeroes the padded slots of ``hs`` (they hold states
    the loop ran past the end of each sequence).
    """
    out = outputs_view(hs, reverse)                      # (T, B, H)
    final = final_state(hs, lengths, valid, reverse)
    if valid is not None and reverse:
        out = out.masked_fill(~valid, 0.0)
    elif valid is not None:
        out.masked_fill_(~valid, 0.0)
    return out.transpose(0, 1).clone(memory_format=torch.contiguous_format), final  # (B, T, H)


def final_state(hs: Tensor, lengths: Tensor | None, valid: Tensor | None,
                reverse: bool) -> Tensor:
    """The state (B, H) after each sequence's last real step, read from the buffer ``hs``
    (reversed, slot 0 holds a real step, or h0 for an empty sequence)."""
    if valid is None or reverse:
        return hs[0 if reverse else -1].clone()
    batch = torch.arange(hs.shape[1], device=hs.device)
    return hs[lengths, batch]                            # h at step lengths[b] - 1 (h0 if 0)


def state_grads(dy: Tensor, dh_n: Tensor, lengths: Tensor | None, valid: Tensor | None,
                reverse: bool) -> Tensor:
    """``dhs`` (T+1, B, H) before the backward loop: output and final-state gradients in place."""
    steps = dy.shape[1]
    dhs = dy.new_empty(steps + 1, dy.shape[0], dy.shape[2])
    dhs[steps if reverse else 0] = 0.0                   # the h0 slot
    out = outputs_view(dhs, reverse)
    out.copy_(dy.transpose(0, 1))                        # (T, B, H)
    if valid is not None:
        out.masked_fill_(~valid, 0.0)
    if valid is None or reverse:
        dhs[0 if reverse else -1] += dh_n
    else:
        batch = torch.arange(dy.shape[0], device=dy.device)
        dhs.index_put_((lengths, batch), dh_n, accumulate=True)
    return dhs


def initial_state_grad(dhs: Tensor, valid: Tensor | None, reverse: bool) -> Tensor:
    """dh0 (B, H) from ``dhs`` after the backward loop.

    Reversed with lengths, padded steps held h0, so the gradient that reached them is added.
    """
    if not reverse:
        return dhs[0]
    dh0 = dhs[-1]
    if valid is not None:
        dh0 = dh0 + dhs[:-1].masked_fill(valid, 0.0).sum(0)
    return dh0


def steps_by_batch(valid: Tensor | None) -> Tensor | None:
    """(T, B, 1) validity as the (T, B) contiguous bool the compiled loops read."""
    return None if valid is None else valid[..., 0].contiguous()


def chunk_steps(steps: int, batch: int, width: int, like: Tensor) -> int:
    """Steps per weight-gradient product in a compiled backward (its da buffer is (Tc, B,
    width)): as many as fit :data:`CHUNK_BYTES`, but at least 1024 rows of B, so each product
    stays large; at most T, and at least 1 (an empty batch, B = 0, has nothing to fit)."""
    batch = max(1, batch)
    fit = CHUNK_BYTES // (batch * width * like.element_size())
    return max(1, min(steps, max(1, fit, -(-1024 // batch))))


def chunks(steps: int, bytes_per_step: int, reverse: bool) -> Iterator[tuple[int, int]]:
    """[t0, t1) time windows of at most ``CHUNK_BYTES`` of temporaries, in backward order."""
    size = max(1, min(steps, CHUNK_BYTES // max(1, bytes_per_step)))
    starts = range(0, steps, size)
    for t0 in (starts if reverse else reversed(starts)):
        yield t0, min(t0 + size, steps)


def gradient_graph(reference, inputs: tuple, needs: tuple[bool, ...],
                   grads: tuple[Tensor, ...]) -> list[Tensor | None]:
    """The gradients of ``reference(*inputs)`` given the output gradients ``grads``, for the
    inputs that ``needs`` marks, as a graph that can itself be differentiated (None for the
    others): what an explicit Function's ``backward`` returns when grad mode is on inside it,
    i.e. under ``backward(create_graph=True)`` or ``autograd.grad(..., create_graph=True)``.

    The hand-written backward passes compute first derivatives only; here the Function's forward
    is recomputed from its saved inputs by ``reference`` (the cells' equations under autograd,
    :func:`~rnnkit.nn.recurrence.scan_projected`) and differentiated with a graph, so a gradient
    penalty, double backward or ``gradgradcheck`` get exact second derivatives, at the cost of
    one reference forward and backward, and only then."""
    wanted = [i for i, need in enumerate(needs) if need and isinstance(inputs[i], Tensor)]
    result: list[Tensor | None] = [None] * len(inputs)
    if not wanted:
        return result
    device = next(t for t in inputs if isinstance(t, Tensor)).device.type
    with torch.enable_grad(), torch.autocast(device, enabled=False):
        outputs = reference(*inputs)
        got = torch.autograd.grad(outputs, [inputs[i] for i in wanted], grads,
                                  create_graph=True, allow_unused=True)
    for i, grad in zip(wanted, got):
        result[i] = grad if grad is not None else torch.zeros_like(inputs[i])
    return result


def save_buffers(ctx, buffers: tuple, inputs: tuple) -> None:
    """Save a forward's buffers, then the Function's inputs (which :func:`gradient_graph`
    recomputes from); ``ctx.buffer_count`` splits them in ``ctx.saved_tensors``."""
    ctx.buffer_count = len(buffers)
    ctx.save_for_backward(*buffers, *inputs)
