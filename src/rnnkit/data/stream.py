"""Batches for truncated BPTT over one long token stream, and a held-out tail for validation.

Truncated backpropagation through time (Williams & Peng 1990; Sutskever 2013, sec. 2.5) trains a
recurrent model on a stream far longer than memory allows by cutting it into windows of ``T``
steps, back-propagating inside a window only, and carrying the final state into the next window.
For that state to be the right one, window ``k+1`` of a batch row must continue exactly where
window ``k`` of the same row stopped. So the stream is cut into ``B`` contiguous lanes::

    ids (N,) -> lanes (B, L), L = N // B, lane b = ids[b*L : (b+1)*L]
    window k: x = lanes[:, p : p+T], y = lanes[:, p+1 : p+T+1], p = k*T

and row ``b`` of every window comes from lane ``b``. When a lane has no full window left, the
batcher wraps to ``p = 0`` and flags ``reset=True`` so the trainer drops the carried state
(the end of a lane does not lead into its start). The ragged end of each lane (fewer than ``T``
targets) is skipped so every window has the same shape.

>>> import torch
>>> b = StreamBatcher(torch.arange(20), batch_size=2, seq_len=3)
>>> b.lanes.tolist()
[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]]
>>> w = next(iter(b)); w.inputs.tolist(), w.targets.tolist(), w.reset
([[0, 1, 2], [10, 11, 12]], [[1, 2, 3], [11, 12, 13]], True)
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor

from rnnkit.data.batch import StreamBatch
from rnnkit.errors import RnnkitError

_HINT_TRAIN = "use a smaller --seq-len or --batch-size"
_HINT_VAL = "use a smaller --batch-size or hold out a larger validation fraction"


def split_tail(ids: Tensor, val_fraction: float) -> tuple[Tensor, Tensor]:
    """``ids`` (N,) -> ``(train (N - V,), val (V,))`` with the last ``V = round(N * f)`` held out.

    The tail, not a random sample, is held out: neighbouring characters are nearly copies of
    each other, so a random split would leak training text into validation. (The bundled corpus
    puts whole held-out plays at its tail for this reason.) ``val_fraction = 0`` gives an empty
    validation stream.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise RnnkitError(f"validation fraction must be in [0, 1), got {val_fraction}")
    n = ids.numel()
    n_val = round(n * val_fraction)
    if val_fraction > 0 and n_val == 0:
        n_val = 1
    if n - n_val < 1:
        raise RnnkitError(f"{n} tokens are too few to hold out {val_fraction:.0%} for validation")
    return ids[: n - n_val], ids[n - n_val :]


def _lanes(ids: Tensor, batch_size: int, seq_len: int, what: str, hint: str) -> Tensor:
    """``ids`` (N,) -> ``(B, L)`` contiguous lanes; RnnkitError when a lane has < T+1 tokens."""
    if ids.dim() != 1:
        raise RnnkitError(f"{what} token stream must be 1-D, got shape {tuple(ids.shape)}")
    if batch_size < 1 or seq_len < 1:
        raise RnnkitError(
            f"batch size and sequence length must be >= 1, got {batch_size} and {seq_len}"
        )
    need = batch_size * (seq_len + 1)
    if ids.numel() < need:
        raise RnnkitError(
            f"{what} text is too short: {batch_size} lanes of {seq_len + 1} tokens need {need} "
            f"tokens but there are {ids.numel()}; {hint}"
        )
    lane_len = ids.numel() // batch_size
    return ids[: batch_size * lane_len].reshape(batch_size, lane_len).long()  # (B, L)


class StreamBatcher:
    """Endless truncated-BPTT windows over one stream, with a resumable position.

    Iterating yields :class:`StreamBatch` windows forever; ``reset`` is True on the first window
    of each pass. ``state_dict()`` records the next window to yield, so a batcher restored with
    ``load_state_dict`` continues at exactly the window where the saved one would have.
    """

    def __init__(
        self,
        ids: Tensor,
        batch_size: int,
        seq_len: int,
        *,
        device: torch.device | str | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.lanes = _lanes(ids, batch_size, seq_len, "training", _HINT_TRAIN).to(device)  # (B, L)
        self._window = 0  # index of the next window within the current pass
        self._epoch = 0  # completed passes over the lanes

    def shard(self, rank: int, world: int) -> "StreamBatcher":
        """Keep only lanes ``[rank * B/W, (rank + 1) * B/W)``: the ``world`` shards of one
        batcher are exactly its batch, each process training its own lanes (data parallelism
        over lanes; every lane still carries its state from window to window)."""
        if self.batch_size % world:
            raise RnnkitError(f"--batch-size {self.batch_size} does not split evenly over "
                              f"{world} processes; give a multiple of {world}")
        per = self.batch_size // world
        self.lanes = self.lanes[rank * per: (rank + 1) * per]                  # (B/W, L)
        self.batch_size = per
        return self

    @property
    def windows_per_epoch(self) -> int:
        """Full windows per pass: window k needs targets up to ``k*T + T`` < L."""
        return (self.lanes.shape[1] - 1) // self.seq_len

    @property
    def epoch(self) -> int:
        """Number of completed passes over the stream."""
        return self._epoch

    def __iter__(self) -> Iterator[StreamBatch]:
        while True:
            yield self._next()

    def _next(self) -> StreamBatch:
        k, T = self._window, self.seq_len
        p = k * T
        batch = StreamBatch(
            inputs=self.lanes[:, p : p + T].contiguous(),  # (B, T)
            targets=self.lanes[:, p + 1 : p + T + 1].contiguous(),  # (B, T)
            reset=k == 0,
        )
        self._window += 1
        if self._window == self.windows_per_epoch:
            self._window, self._epoch = 0, self._epoch + 1
        return batch

    def state_dict(self) -> dict:
        """Position of the next window, plus the sizes it is only valid for."""
        return {
            "window": self._window,
            "epoch": self._epoch,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "lane_len": self.lanes.shape[1],
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a saved position; RnnkitError if it was saved for other sizes."""
        mine = (self.batch_size, self.seq_len, self.lanes.shape[1])
        theirs = (state["batch_size"], state["seq_len"], state["lane_len"])
        if mine != theirs:
            raise RnnkitError(
                f"saved data position is for batch size {theirs[0]}, sequence length {theirs[1]}, "
                f"lane length {theirs[2]} but this run has {mine[0]}, {mine[1]}, {mine[2]}"
            )
        if not 0 <= state["window"] < self.windows_per_epoch:
            raise RnnkitError(f"saved data position {state['window']} is out of range")
        self._window, self._epoch = int(state["window"]), int(state["epoch"])


def eval_windows(ids: Tensor, batch_size: int, seq_len: int) -> Iterator[StreamBatch]:
    """Windows that cover a validation stream once, in order, for evaluation with carried state.

    Lanes as in :class:`StreamBatcher`; no wrap. The last window is shorter than ``seq_len``
    when the lane length does not divide evenly, so every target of every lane is scored once
    (only the ``N % B`` tokens past the last lane are left out). The first window has
    ``reset=True``, the others ``False``.
    """
    if seq_len < 1:
        raise RnnkitError(f"sequence length must be >= 1, got {seq_len}")
    lanes = _lanes(ids, batch_size, 1, "validation", _HINT_VAL)  # (B, L); checked eagerly
    return _in_order(lanes, seq_len)


def _in_order(lanes: Tensor, seq_len: int) -> Iterator[StreamBatch]:
    lane_len = lanes.shape[1]
    for p in range(0, lane_len - 1, seq_len):
        end = min(p + seq_len, lane_len - 1)
        yield StreamBatch(
            inputs=lanes[:, p:end].contiguous(),  # (B, <=T)
            targets=lanes[:, p + 1 : end + 1].contiguous(),  # (B, <=T)
            reset=p == 0,
        )
