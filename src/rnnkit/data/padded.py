"""Batches of independent, variable-length sequences, right-padded (full BPTT per batch).

``PaddedBatches`` is re-iterable: each pass shuffles the examples with its own generator
(seeded, advanced pass by pass), then cuts them into chunks of ``bucket * batch_size``, sorts
each chunk by length and slices it into batches, so a batch holds sequences of similar length
(little padding) while the order of batches stays random. Inputs are padded with 0, per-step
targets with ``IGNORE`` (-100, what ``cross_entropy``'s ``ignore_index`` skips).

A pass is a pure function of the generator's state at its start, so ``state_dict`` (that state
and the batches handed out since) is all a resumed run needs to continue with the very batch
an uninterrupted run would have drawn next.

>>> import torch
>>> b = pad_batch([torch.tensor([1, 2, 3]), torch.tensor([4])], [0, 1])
>>> b.inputs.tolist(), b.lengths.tolist(), b.targets.tolist()
([[1, 2, 3], [4, 0, 0]], [3, 1], [0, 1])
"""

from __future__ import annotations

import random

import torch
from torch import Tensor

from rnnkit.data.batch import SequenceBatch

IGNORE = -100  # target of a padded step


def pad_batch(inputs: list[Tensor], targets: list) -> SequenceBatch:
    """Right-pad ``inputs`` (each (T_i, ...)) to (B, T_max, ...) and stack the targets: ints
    give (B,), per-step tensors (T_i,) give (B, T_max) padded with ``IGNORE``."""
    lengths = torch.tensor([len(x) for x in inputs])
    x = torch.nn.utils.rnn.pad_sequence(inputs, batch_first=True)          # (B, T, ...)
    if isinstance(targets[0], Tensor):
        y = torch.nn.utils.rnn.pad_sequence(targets, batch_first=True,
                                            padding_value=IGNORE)           # (B, T)
    else:
        y = torch.tensor(targets)                                           # (B,)
    return SequenceBatch(x, y, lengths)


class PaddedBatches:
    """Length-bucketed, shuffled batches of (input, target) pairs; iterate once per epoch."""

    def __init__(self, inputs: list[Tensor], targets: list, batch_size: int, *,
                 shuffle: bool = True, seed: int = 0, bucket: int = 50) -> None:
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle, self.bucket = batch_size, shuffle, bucket
        self.rng = random.Random(seed)
        self.pass_start = self.rng.getstate()  # generator state when the current pass began
        self.position = 0                       # batches handed out in the current pass
        self.skip = 0                           # batches the next pass skips (resume)
        self.rank, self.world = 0, 1            # this process's share of each batch

    def shard(self, rank: int, world: int) -> "PaddedBatches":
        """Yield only this process's rows of every batch: the contiguous slice ``rank`` of
        ``world`` (the same pass plan in every process, so the shards of one batch together are
        the single-process batch; a batch with fewer rows than processes repeats rows)."""
        self.rank, self.world = rank, world
        return self

    def __len__(self) -> int:
        return -(-len(self.inputs) // self.batch_size)

    def state_dict(self) -> dict:
        """Where the current pass stands: ``{"pass_start": rng state, "position": batches}``."""
        return {"pass_start": self.pass_start, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        """Make the next iteration replay the saved pass from the batch after ``position``."""
        self.rng.setstate(state["pass_start"])
        self.skip = int(state["position"])

    def __iter__(self):
        self.pass_start, skip, self.skip = self.rng.getstate(), self.skip, 0
        order, starts = self._plan()
        if skip >= len(starts):                 # saved at the end of a pass: begin the next
            self.pass_start, skip = self.rng.getstate(), 0
            order, starts = self._plan()
        self.position = skip
        for s in starts[skip:]:
            idx = self._rows(order[s: s + self.batch_size])
            self.position += 1
            yield pad_batch([self.inputs[i] for i in idx], [self.targets[i] for i in idx])

    def _rows(self, idx: list[int]) -> list[int]:
        if self.world == 1:
            return idx
        if len(idx) < self.world:
            return [idx[self.rank % len(idx)]]
        per, extra = divmod(len(idx), self.world)
        start = self.rank * per + min(self.rank, extra)
        return idx[start: start + per + (self.rank < extra)]

    def _plan(self) -> tuple[list[int], list[int]]:
        """One pass: the example order and the start of each batch in it (advances the rng)."""
        order = list(range(len(self.inputs)))
        if not self.shuffle:
            return order, list(range(0, len(order), self.batch_size))
        self.rng.shuffle(order)
        chunk = self.bucket * self.batch_size
        order = [i for s in range(0, len(order), chunk)
                 for i in sorted(order[s: s + chunk], key=lambda i: len(self.inputs[i]))]
        starts = list(range(0, len(order), self.batch_size))
        self.rng.shuffle(starts)
        return order, starts
