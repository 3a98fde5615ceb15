"""Symbol <-> id tables for word, character and label vocabularies.

A :class:`Vocab` reserves id 0 for padding and id 1 for the unknown symbol; the symbols kept
from training (the ``max_size`` most frequent with at least ``min_count`` occurrences, ties in
first-seen order) get ids 2, 3, ... A :class:`LabelSet` is the sorted set of training labels,
ids 0..K-1, and refuses a label it does not know in one line.

>>> v = Vocab.build(["a b a", "c a"], str.split)
>>> v.encode("a z".split())
[2, 1]
>>> LabelSet.build(["pos", "neg", "pos"]).labels
('neg', 'pos')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

from rnnkit.errors import RnnkitError

PAD, UNK = 0, 1  # reserved ids of every Vocab


@dataclass(frozen=True)
class Vocab:
    """Ids for symbols seen in training; everything else is UNK."""

    symbols: tuple[str, ...]  # symbols[i] has id i + 2
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(self.symbols))
        object.__setattr__(self, "_index", {s: i + 2 for i, s in enumerate(self.symbols)})
        if len(self._index) != len(self.symbols):
            raise RnnkitError("vocabulary has repeated symbols")

    @classmethod
    def build(cls, items: Iterable, split: Callable[[object], Iterable[str]], *,
              min_count: int = 1, max_size: int | None = None) -> Vocab:
        """The vocabulary of ``split(item)`` over ``items``."""
        counts = Counter(s for item in items for s in split(item))
        kept = [s for s, n in counts.most_common(max_size) if n >= min_count]
        return cls(tuple(kept))

    @property
    def size(self) -> int:
        """Ids in use, padding and UNK included."""
        return len(self.symbols) + 2

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._index

    def encode(self, symbols: Iterable[str]) -> list[int]:
        return [self._index.get(s, UNK) for s in symbols]


@dataclass(frozen=True)
class LabelSet:
    """The classes (or tags) seen in training, ids 0..K-1 in sorted order."""

    labels: tuple[str, ...]  # labels[k] has id k
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.labels)})

    @classmethod
    def build(cls, labels: Iterable[str]) -> LabelSet:
        found = sorted(set(labels))
        if len(found) < 2:
            raise RnnkitError(f"training data has {len(found)} distinct label(s); a classifier "
                              "needs at least 2")
        return cls(tuple(found))

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, label: str) -> int:
        return self._index[label]

    def unseen(self, labels: Iterable[str]) -> Counter:
        """Labels not in the set, with their counts."""
        return Counter(s for s in labels if s not in self._index)
