"""Word-level tokenizer for a word language model (next-word prediction, e.g. Penn Treebank).

A token is a whitespace-separated word; every line break is the end-of-sentence token ``<eos>``
(Mikolov's convention for the PTB language-model data, whose published perplexities count it).
The vocabulary is the training text's words, most frequent first (ties in order of first
appearance), optionally cut to ``max_size``; id 0 is ``<unk>``, which every other word becomes,
and id 1 is ``<eos>``. A corpus that already has ``<unk>`` in it (PTB does) keeps it as id 0.

>>> tok = WordTokenizer.from_text("elma kırmızıdır\\nelma tatlıdır\\n")
>>> tok.words
('<unk>', '<eos>', 'elma', 'kırmızıdır', 'tatlıdır')
>>> tok.encode("elma yeşildir\\n").tolist()
[2, 0, 1]
>>> tok.decode([2, 3, 1, 2])
'elma kırmızıdır\\nelma'
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import torch

from rnnkit.data.text import atomic_write
from rnnkit.data.tokenizer import check_saved
from rnnkit.errors import RnnkitError

UNK_WORD, EOS = "<unk>", "<eos>"
FORMAT = "rnnkit.word_tokenizer"
VERSION = 1


def words_of(text: str) -> list[str]:
    """``text`` -> its words, with ``<eos>`` after every line break (not after an unfinished
    last line, so a prompt ``"the company"`` continues the sentence)."""
    lines = text.split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        out += line.split()
        if i < len(lines) - 1:
            out.append(EOS)
    return out


@dataclass(frozen=True)
class WordTokenizer:
    """Maps text to word ids and back; immutable once built."""

    words: tuple[str, ...]       # words[i] has id i; words[0] is <unk>, words[1] is <eos>
    _ids: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = tuple(self.words)
        if words[:2] != (UNK_WORD, EOS):
            raise RnnkitError(f"a word vocabulary starts with {UNK_WORD} and {EOS}")
        if len(set(words)) != len(words):
            raise RnnkitError("word vocabulary has repeated words")
        bad = next((w for w in words if not isinstance(w, str) or not w or w.split() != [w]),
                   None)
        if bad is not None:
            raise RnnkitError(f"word vocabulary entry {bad!r} is not one word")
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "_ids", {w: i for i, w in enumerate(words)})

    @classmethod
    def from_text(cls, text: str, max_size: int = 0) -> WordTokenizer:
        """Vocabulary of ``text``'s words, most frequent first; at most ``max_size`` ids
        (``<unk>`` and ``<eos>`` included) when ``max_size`` > 0."""
        counts = Counter(words_of(text))
        for special in (UNK_WORD, EOS):
            counts.pop(special, None)
        ranked = [w for w, _ in sorted(counts.items(), key=lambda kv: -kv[1])]  # stable ties
        if max_size:
            if max_size < 3:
                raise RnnkitError(f"a word vocabulary needs at least 3 entries, got {max_size}")
            ranked = ranked[:max_size - 2]
        return cls((UNK_WORD, EOS, *ranked))

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> torch.Tensor:
        """``text`` -> LongTensor (N,) of word ids; words outside the vocabulary become 0."""
        get = self._ids.get
        return torch.tensor([get(w, 0) for w in words_of(text)], dtype=torch.long)

    def piece(self, token: int) -> str:
        """One id as streamed text: the word and a space, or a line break for ``<eos>``."""
        if not 0 <= token < len(self.words):
            raise RnnkitError(f"token id {token} is outside the vocabulary "
                              f"(0..{len(self.words) - 1})")
        return "\n" if token == 1 else self.words[token] + " "

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Ids -> text: words joined by spaces, ``<eos>`` as a line break."""
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        text = "".join(self.piece(i) for i in ids)
        return text.replace(" \n", "\n").rstrip(" ")

    def unknown_symbols(self, text: str) -> list[str]:
        """Distinct words of ``text`` outside the vocabulary, in order of first appearance."""
        seen = dict.fromkeys(w for w in words_of(text) if w not in self._ids)
        return list(seen)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "words": list(self.words)}

    @classmethod
    def from_dict(cls, d: object) -> WordTokenizer:
        check_saved(d, FORMAT, VERSION, "word tokenizer")
        words = d.get("words")
        if not isinstance(words, list) or len(words) < 2:
            raise RnnkitError("word tokenizer 'words' must be a list of words")
        return cls(tuple(words))

    def save(self, path: str | os.PathLike) -> Path:
        payload = json.dumps(self.to_dict(), ensure_ascii=False) + "\n"
        return atomic_write(path, lambda tmp: tmp.write_text(payload, encoding="utf-8"))
