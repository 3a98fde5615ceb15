"""What a loaded data set is: examples in, targets out, a fixed train/test split.

An example is one of three things, named by :attr:`Dataset.kind`:

* ``"text"``   -- a string (a tweet, a name), targets one label per example;
* ``"series"`` -- a float array (T, C): T steps of C channels, one label per example;
* ``"tagged"`` -- a tuple of T tokens, targets a tuple of T tags (aligned many-to-many);
* ``"pairs"``  -- a source string, targets a tuple of its reference outputs (unaligned
  many-to-many, :mod:`rnnkit.data.datasets.pairs`).

Nothing here knows about ids or tensors: the codecs (:mod:`rnnkit.data.codecs`) turn examples
into numbers once the training split has fixed the vocabulary and the label set.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("text", "series", "tagged", "pairs")


@dataclass(frozen=True)
class Split:
    """One side of a split: examples and their targets, in the same order."""

    inputs: tuple   # str | np.ndarray (T, C) float32 | tuple[str, ...] per example
    targets: tuple  # str label per example, or tuple[str, ...] of tags per tagged example

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, indices) -> "Split":
        """The examples at ``indices``, in that order."""
        return Split(tuple(self.inputs[i] for i in indices),
                     tuple(self.targets[i] for i in indices))


@dataclass(frozen=True)
class Dataset:
    """A data set with its train/test split fixed and described."""

    name: str        # builtin:NAME or the user's path
    kind: str        # one of KINDS
    train: Split     # what the model may learn from (a validation part is cut from it later)
    test: Split      # held out: only `rnnkit evaluate` and the results table read it
    split: str       # one line saying how the split was made (official, seeded, by index)
    test_indices: tuple[int, ...] = ()  # for seeded splits of one file: rows that went to test
