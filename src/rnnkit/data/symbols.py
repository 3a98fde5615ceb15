"""Symbol codec of a generated sequence: characters or space-separated tokens <-> ids.

Generators (the conditional generator, the seq2seq decoder and encoder) share one layout: id 0
pads, id 1 is the unknown symbol (:mod:`rnnkit.data.vocab`), id 2 is the boundary symbol
``<s>`` that starts every decoder input and ends every target, and the symbols seen in training
follow. ``level="char"`` splits a text into characters (names, words to pronounce),
``level="space"`` on whitespace (phonemes ``HH AH0 L OW1``, words).

>>> codec = SymbolCodec.fit(["ab", "ba", "c"], "char")
>>> codec.encode("abz"), codec.unknown("abz"), codec.join(codec.decode([3, 4, 2]))
([3, 4, 1], ['z'], 'ab')
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.data.vocab import PAD, UNK, Vocab
from rnnkit.errors import RnnkitError

BOUNDARY = "<s>"     # starts a decoder's input, ends its target
BOUNDARY_ID = 2      # its id: the first symbol of every SymbolCodec vocabulary
LEVELS = ("char", "space")


@dataclass(frozen=True)
class SymbolCodec:
    """Characters or whitespace tokens <-> ids, with the boundary symbol at id 2."""

    vocab: Vocab     # symbols[0] is BOUNDARY
    level: str       # "char" or "space"

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise RnnkitError(f"unknown level {self.level!r}; choose one of {', '.join(LEVELS)}")

    @classmethod
    def fit(cls, texts, level: str, *, min_count: int = 1) -> "SymbolCodec":
        """The symbols of ``texts`` (most frequent first), after the boundary symbol."""
        split = list if level == "char" else str.split
        seen = Vocab.build(texts, split, min_count=min_count)
        return cls(Vocab((BOUNDARY, *(s for s in seen.symbols if s != BOUNDARY))), level)

    @property
    def size(self) -> int:
        return self.vocab.size

    def split(self, text: str) -> list[str]:
        return list(text) if self.level == "char" else text.split()

    def encode(self, text: str) -> list[int]:
        """Ids of the symbols of ``text`` (no boundary added); unseen symbols are UNK."""
        return self.vocab.encode(self.split(text))

    def unknown(self, text: str) -> list[str]:
        """Symbols of ``text`` the vocabulary lacks, in first-seen order."""
        return list(dict.fromkeys(s for s in self.split(text) if s not in self.vocab))

    def decode(self, ids) -> list[str]:
        """Symbols of ``ids``; padding and the boundary are dropped, UNK shows as '?'."""
        out = []
        for i in ids:
            if i in (PAD, BOUNDARY_ID):
                continue
            out.append("?" if i == UNK else self.vocab.symbols[i - 2])
        return out

    def join(self, symbols: list[str]) -> str:
        return ("" if self.level == "char" else " ").join(symbols)

    def to_dict(self) -> dict:
        return {"symbols": list(self.vocab.symbols), "level": self.level}

    @classmethod
    def from_dict(cls, d: dict) -> "SymbolCodec":
        try:
            return cls(Vocab(tuple(d["symbols"])), d["level"])
        except (KeyError, TypeError) as e:
            raise RnnkitError(f"saved symbol table is malformed ({e})") from None
