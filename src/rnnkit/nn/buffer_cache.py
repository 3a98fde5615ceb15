"""Reuse of the large CPU buffers an explicit-BPTT Function saves between forward and backward.

A training step of an explicit layer allocates a few buffers of T x B x (1..4)H values (gates,
candidates, states) in its forward and frees them at the end of its backward. On CPU, blocks that
large come straight from the operating system (glibc serves them with mmap) and every page is
faulted in again on first touch at every step: at B64/T256/H512 that is about 200 MB per layer,
and with two threads the faults cost as much as the step's elementwise work (docs/benchmarks.md).
``torch.nn.GRU`` does not pay this: its per-step tensors are small and malloc recycles them.

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
from math import prod

import torch
from torch import Tensor

# Most bytes kept for reuse (the buffers of one training step of a large two-layer model).
CACHE_BYTES = 1 << 30


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
    """A bounded free list of flat CPU buffers, matched by dtype and size."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._free: list[Tensor] = []                    # flat, oldest first
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return sum(b.numel() * b.element_size() for b in self._free)

    def take(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """An uninitialised tensor of ``shape`` with ``like``'s dtype and device: a cached buffer
        of the same size when there is one, else a new one."""
        numel = prod(shape)
        if like.device.type == "cpu":
            with self._lock:
                for i, buf in enumerate(self._free):
                    if buf.dtype == like.dtype and buf.numel() == numel and unshared(buf):
                        del self._free[i]
                        return buf.view(shape)
        return like.new_empty(shape)

    def give(self, *tensors: Tensor | None) -> None:
        """Return buffers from :meth:`take` once nothing will read them again."""
        for tensor in tensors:
            if tensor is None or tensor.device.type != "cpu":
                continue
            flat = alias(tensor)
            size = flat.numel() * flat.element_size()
            with self._lock:
                if size > self.max_bytes:
                    continue
                self._free.append(flat)
                while self.nbytes > self.max_bytes:
                    self._free.pop(0)

    def clear(self) -> None:
        """Drop every cached buffer."""
        with self._lock:
            self._free.clear()


CACHE = BufferCache()


def empty_cache() -> None:
    """Free the buffers :data:`CACHE` keeps (as ``torch.cuda.empty_cache`` does on GPU)."""
    CACHE.clear()


def set_cache_bytes(limit: int) -> None:
    """Keep at most ``limit`` bytes for reuse (0 turns reuse off)."""
    CACHE.max_bytes = max(0, int(limit))
    with CACHE._lock:
        while CACHE._free and CACHE.nbytes > CACHE.max_bytes:
            CACHE._free.pop(0)
