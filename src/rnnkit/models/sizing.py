"""Refuse a model too big for this machine before any memory is allocated.

``build_checked(factory)`` builds the model once on PyTorch's ``meta`` device (shapes without
storage; no random numbers are drawn, so the real build gives the same weights), counts its
parameters, and refuses in one line when they would not fit in the memory available: weights
alone for inference, weights, gradients and AdamW's two moments (4x) for training. A size typed
by mistake (``--hidden 1000000000``) or planted in a run folder's config then fails fast with
the flag to change, instead of the process being killed by the system or raising deep inside
PyTorch.
"""

from __future__ import annotations

import os
from typing import Callable, TypeVar

import torch
from torch import nn

from rnnkit.errors import RnnkitError

M = TypeVar("M", bound=nn.Module)
BYTES_PER_VALUE = 4               # float32 parameters
TRAINING_COPIES = 4               # weights, gradients, AdamW's first and second moments
ENV_LIMIT = "RNNKIT_MAX_MODEL_BYTES"  # an explicit limit instead of the memory available


def available_bytes() -> int | None:
    """``RNNKIT_MAX_MODEL_BYTES``, else the memory the system reports available (Linux's
    MemAvailable), else None (no check)."""
    if os.environ.get(ENV_LIMIT):
        return int(os.environ[ENV_LIMIT])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def build_checked(factory: Callable[[], M], *, training: bool = True,
                  hint: str = "--hidden, --embed or --layers") -> M:
    """``factory()``, refused in one line when its parameters would not fit in memory."""
    try:
        with torch.device("meta"):
            probe = factory()
    except (RuntimeError, ValueError, OverflowError) as e:
        raise RnnkitError(f"the model cannot be built with these sizes ({e}); change {hint}") \
            from None
    count = sum(p.numel() for p in probe.parameters())
    need = count * BYTES_PER_VALUE * (TRAINING_COPIES if training else 1)
    limit = available_bytes()
    if limit is not None and need > limit:
        raise RnnkitError(f"the model would have {count:,} parameters, {need / 2**30:,.1f} GiB "
                          f"{'to train' if training else 'to load'}, more than the "
                          f"{limit / 2**30:,.1f} GiB available; make {hint} smaller")
    return factory()
