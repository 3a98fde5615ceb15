"""The texts a language model trains on: a validation tail, and a test part for built-in texts.

The validation split is the tail of the text (``val_fraction``). A built-in text also has a test
part, scored once at the end of training: for the Shakespeare corpus a whole play that training
never sees (The Merchant of Venice, from ``HELD_OUT_START``), for ``builtin:ptb`` PTB's test set
(and PTB's own validation set instead of a tail).
"""

from __future__ import annotations

from rnnkit.data.corpus import DEFAULT_CORPUS_NAME, HELD_OUT_START, default_corpus
from rnnkit.data.datasets.ptb import PTB_NAME, ptb_texts
from rnnkit.data.text import read_text
from rnnkit.errors import RnnkitError

BUILTIN = f"builtin:{DEFAULT_CORPUS_NAME}"
PTB = f"builtin:{PTB_NAME}"
TEST_NAMES = {BUILTIN: "The Merchant of Venice, a play training never sees",
              PTB: "the Penn Treebank test set"}


def read_corpus(data: str) -> tuple[str, int]:
    """The text and the character offset where its validation tail starts."""
    if data == BUILTIN:                          # the training plays; their tail validates
        text = default_corpus()[:HELD_OUT_START]
        return text, len(text)
    if data == PTB:
        parts = ptb_texts()
        return parts["train"] + parts["valid"], len(parts["train"])
    if data.startswith("builtin:"):
        raise RnnkitError(f"unknown built-in text {data!r}; the built-in texts are {BUILTIN} "
                          f"and {PTB} (words)")
    text = read_text(data)
    return text, len(text)  # the caller applies val_fraction


def read_test_text(data: str) -> str | None:
    """The test part of a built-in text (``TEST_NAMES``), else None."""
    if data == BUILTIN:
        return default_corpus()[HELD_OUT_START:]
    return ptb_texts()["test"] if data == PTB else None


def split_text(text: str, val_start: int, val_fraction: float) -> tuple[str, str]:
    """(training text, validation text): at ``val_start`` when the data has its own validation
    part, else the last ``val_fraction`` of the text."""
    if val_start >= len(text):
        if not 0 < val_fraction < 1:
            raise RnnkitError(f"validation fraction must be in (0, 1), got {val_fraction}")
        val_start = int(len(text) * (1 - val_fraction))
    return text[:val_start], text[val_start:]
