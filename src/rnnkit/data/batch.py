"""What a training batch is: inputs, targets, and whether the recurrent state starts fresh.

The trainer accepts any object with ``inputs``, ``targets`` and ``reset`` attributes
(:class:`Batch`). Two shapes of data give two dataclasses:

* :class:`StreamBatch` -- one window of a long token stream (truncated BPTT). ``reset`` is True
  on the first window of each pass, where the state carried from the previous window must be
  dropped; otherwise the trainer carries the (detached) state into this window.
* :class:`SequenceBatch` -- independent sequences (full BPTT). ``reset`` is always True: each
  batch starts from a zero state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from torch import Tensor


class Batch(Protocol):
    """The trainer's view of a batch."""

    inputs: Tensor  # (B, T, ...) model input
    targets: Tensor  # whatever the loss function compares the model output with
    reset: bool  # True: start from a zero state; False: continue the carried state


@dataclass(frozen=True)
class StreamBatch:
    """One truncated-BPTT window: ``targets`` are ``inputs`` shifted by one token."""

    inputs: Tensor  # (B, T) token ids, lane b positions p .. p+T-1
    targets: Tensor  # (B, T) token ids, lane b positions p+1 .. p+T
    reset: bool  # True on the first window of a pass (no state carried across the wrap)


@dataclass(frozen=True)
class SequenceBatch:
    """A batch of independent (possibly padded) sequences; each starts from a zero state."""

    inputs: Tensor  # (B, T, ...) padded inputs
    targets: Tensor  # (B, T) per-step targets or (B,) per-sequence labels
    lengths: Tensor | None = None  # (B,) true lengths; None when no padding

    @property
    def reset(self) -> bool:
        """Always True: sequences are independent, so no state is carried between batches."""
        return True
