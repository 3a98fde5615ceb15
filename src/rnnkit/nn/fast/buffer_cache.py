"""Reuse of the large CPU buffers an explicit-BPTT Function saves between forward and backward.

A training step of an explicit layer allocates a few buffers of T x B x (1..4)H values (gates,
candidates, states) in its forward and frees them at the end of its backward. On CPU, blocks that
large come straight from the operating system (glibc serves them with mmap) and every page is
faulted in again on first touch at every step; for a large layer the faults cost as much as the
step's elementwise work (docs/benchmarks.md). ``torch.nn.GRU`` does not pay this: its per-step
tensors are small and malloc recycles them.

:data:`CACHE` keeps the buffers a backward pass has finished with and hands them to the next
forward of the same size, as PyTorch's CUDA caching allocator does for device memory. A buffer
is handed out again only when nothing else holds its storage: a forward takes a buffer out of the
cache (or allocates one) and the backward that consumed it gives it back, but while a graph
retained with ``backward(retain_graph=True)`` still saves it, its storage has another owner and
the next forward allocates a new buffer instead (the storage's reference count, read through
``torch._C._storage_Use_Count``; where that is missing the cache never reuses). Two forwards before
one backward therefore get distinct buffers, and a forward whose graph is never backpropagated
just lets its buffers be freed.

At most :data:`CACHE_BYTES` are kept (oldest dropped first); :func:`empty_cache` frees them all.
GPU tensors never enter the cache: the CUDA allocator already caches.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from math import prod

import torch
from torch import Tensor

# Most bytes kept for reuse (the buffers of one training step of a large two-layer model).
CACHE_BYTES = 1 << 30
# Smaller buffers are left to malloc, which recycles them without page faults.
MIN_BYTES = 1 << 18


def _storage_owners(tensor: Tensor) -> int | None:
    """How many tensors (and storage objects) hold ``tensor``'s storage; None where torch does
    not say."""
    count = getattr(torch._C, "_storage_Use_Count", None)
    return None if count is None else count(tensor.untyped_storage()._cdata)


_ALONE = _storage_owners(torch.empty(1))                 # one tensor, plus the probe's object


def unshared(tensor: Tensor) -> bool:
    """Whether ``tensor`` alone holds its storage (no view, no graph saves it)."""
    owners = _storage_owners(tensor)
    return owners is not None and _ALONE is not None and owners <= _ALONE


def alias(tensor: Tensor) -> Tensor:
    """A flat tensor on ``tensor``'s storage that is not a view of it (a view would keep
    ``tensor`` itself alive through ``_base``)."""
    return tensor.new_empty(0).set_(tensor.untyped_storage(), tensor.storage_offset(),
                                    (tensor.numel(),), (1,))


class BufferCache:
    """A bounded free list of flat CPU buffers, matched by dtype and size.

    Buffers under ``min_bytes`` are neither kept nor looked up (malloc recycles small blocks
    without page faults); at most ``per_size`` buffers of one dtype and size are kept, and at
    most ``max_bytes`` in all, the sizes given back longest ago dropped first.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES, *, min_bytes: int = MIN_BYTES,
                 per_size: int = 8) -> None:
        self.max_bytes, self.min_bytes, self.per_size = max_bytes, min_bytes, per_size
        self._free: OrderedDict[tuple[torch.dtype, int], list[Tensor]] = OrderedDict()
        self.nbytes = 0                                  # bytes held now
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """An uninitialised tensor of ``shape`` with ``like``'s dtype and device: a cached buffer
        of the same size that nothing else holds when there is one, else a new one."""
        numel = prod(shape)
        if like.device.type == "cpu" and numel * like.element_size() >= self.min_bytes:
            with self._lock:
                bufs = self._free.get((like.dtype, numel), [])
                for i, buf in enumerate(bufs):
                    if unshared(buf):
                        del bufs[i]
                        self.nbytes -= numel * buf.element_size()
                        return buf.view(shape)
        return like.new_empty(shape)

    def give(self, *tensors: Tensor | None) -> None:
        """Return buffers from :meth:`take` once nothing will read them again."""
        for tensor in tensors:
            if tensor is None or tensor.device.type != "cpu":
                continue
            size = tensor.numel() * tensor.element_size()
            if not self.min_bytes <= size <= self.max_bytes:
                continue
            key = (tensor.dtype, tensor.numel())
            with self._lock:
                bufs = self._free.setdefault(key, [])
                self._free.move_to_end(key)
                if len(bufs) >= self.per_size:
                    continue
                bufs.append(alias(tensor))
                self.nbytes += size
                self._shrink(self.max_bytes)

    def _shrink(self, limit: int) -> None:
        """Drop buffers, least recently given sizes first, until at most ``limit`` bytes."""
        while self.nbytes > limit and self._free:
            key, bufs = next(iter(self._free.items()))
            if not bufs:
                del self._free[key]
                continue
            buf = bufs.pop(0)
            self.nbytes -= buf.numel() * buf.element_size()

    def set_limit(self, limit: int) -> None:
        """Keep at most ``limit`` bytes from now on (0: no reuse)."""
        with self._lock:
            self.max_bytes = max(0, int(limit))
            self._shrink(self.max_bytes)

    def clear(self) -> None:
        """Drop every cached buffer."""
        with self._lock:
            self._free.clear()
            self.nbytes = 0


CACHE = BufferCache()


def empty_cache() -> None:
    """Free the buffers :data:`CACHE` keeps (as ``torch.cuda.empty_cache`` does on GPU)."""
    CACHE.clear()


def set_cache_bytes(limit: int) -> None:
    """Keep at most ``limit`` bytes for reuse (0 turns reuse off)."""
    CACHE.set_limit(limit)
