"""A language model's tokenizer that cuts text exactly as a classifier's codec does.

Language-model pretraining for a classifier (ULMFiT: Howard & Ruder 2018, "Universal Language
Model Fine-tuning for Text Classification") needs one vocabulary for both: the classifier starts
from the language model's embedding and encoder, so token ``i`` must mean the same thing in both.
A :class:`TextTokenizer` holds the tokens of :class:`~rnnkit.data.codec.TextCodec` (``word``,
``char`` or ``subword`` level, the same :class:`~rnnkit.data.vocab.Vocab` ids: 0 padding, 1
unknown) and reads a corpus of one text per line, with an end-of-text symbol after each line
(``\\n`` at the character level, ``<eos>`` otherwise), so the model learns where texts end.

>>> tok = TextTokenizer.fit(["Good day!", "bad day"], "word")
>>> tok.encode("good night\\n").tolist()
[3, 1, 6]
>>> tok.decode([3, 2, 6])
'good day\\n'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch

from rnnkit.data.codec import TextCodec, fit_text_vocab, text_tokens
from rnnkit.data.subword import join_pieces
from rnnkit.data.text import atomic_write
from rnnkit.data.tokenizer import check_saved
from rnnkit.data.vocab import LabelSet, Vocab
from rnnkit.errors import RnnkitError

FORMAT = "rnnkit.text_tokenizer"
VERSION = 1
EOS_WORD = "<eos>"          # end of a text at the word and subword levels
EOS_CHAR = "\n"             # ... and at the character level


def eos_symbol(level: str) -> str:
    return EOS_CHAR if level == "char" else EOS_WORD


@dataclass(frozen=True)
class TextTokenizer:
    """Text (one example per line) -> the ids a classifier's TextCodec gives, plus end-of-text."""

    level: str           # "word", "char" or "subword"; "token": a tagged sentence's words
    vocab: Vocab         # the training texts' tokens and the end-of-text symbol
    subword: str = ""    # level "subword": the subword model (tokenizers JSON)

    def __post_init__(self) -> None:
        if eos_symbol(self.level) not in self.vocab:
            raise RnnkitError(f"a {self.level}-level text tokenizer's vocabulary lacks its "
                              f"end-of-text symbol {eos_symbol(self.level)!r}")

    @classmethod
    def fit(cls, texts: Iterable[str], level: str, *, max_vocab: int = 0,
            subword_model: str = "bpe", subword_vocab: int = 4000) -> TextTokenizer:
        """The tokenizer of ``texts`` (one example each); ``max_vocab`` keeps the most
        frequent tokens (0: all)."""
        texts = list(texts)
        vocab, subword = fit_text_vocab(texts, level, max_vocab=max_vocab or None,
                                        subword_model=subword_model,
                                        subword_vocab=subword_vocab)
        return cls(level, Vocab((*vocab.symbols, eos_symbol(level))), subword)

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    @property
    def eos(self) -> int:
        return self.vocab.encode([eos_symbol(self.level)])[0]

    def encode(self, text: str) -> torch.Tensor:
        """``text`` -> LongTensor (N,): each line's tokens then end-of-text (not after an
        unfinished last line, so a prompt continues its text)."""
        lines = text.split("\n")
        ids: list[int] = []
        for i, line in enumerate(lines):
            ids += self.vocab.encode(text_tokens(self.level, line, self.subword))
            if i < len(lines) - 1:
                ids.append(self.eos)
        return torch.tensor(ids, dtype=torch.long)

    def _symbol(self, token: int) -> str:
        if not 0 <= token < self.vocab_size:
            raise RnnkitError(f"token id {token} is outside the vocabulary "
                              f"(0..{self.vocab_size - 1})")
        return self.vocab.symbols[token - 2] if token >= 2 else ("" if token == 0 else "\ufffd")

    def piece(self, token: int) -> str:
        """One id as streamed text (a word and a space; a subword piece; a character)."""
        symbol = self._symbol(token)
        if token == self.eos:
            return "\n"
        if self.level == "char":
            return symbol
        if self.level == "subword":
            return symbol[2:] if symbol.startswith("##") else " " + symbol.lstrip("\u2581")
        return symbol + " "

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        ids = list(ids)
        if self.level != "subword":
            return "".join(self.piece(i) for i in ids).replace(" \n", "\n").rstrip(" ")
        lines, pieces = [], []
        for i in ids:
            if i == self.eos:
                lines.append(join_pieces(self.subword, pieces))
                pieces = []
            else:
                pieces.append(self._symbol(i))
        return "\n".join([*lines, join_pieces(self.subword, pieces)])

    def unknown_symbols(self, text: str) -> list[str]:
        """Distinct tokens of ``text`` outside the vocabulary, in order of first appearance."""
        tokens = (t for line in text.split("\n")
                  for t in text_tokens(self.level, line, self.subword))
        return list(dict.fromkeys(t for t in tokens if t not in self.vocab))

    def codec(self, labels: LabelSet, max_len: int) -> TextCodec:
        """The classifier codec with this vocabulary: token ids mean the same in both."""
        return TextCodec(self.level, self.vocab, labels, max_len, self.subword)

    def matches(self, codec) -> bool:
        """Whether ``codec`` (a TextCodec, or a TagCodec's words) cuts and numbers text as
        this tokenizer does."""
        if self.level == "token":
            return getattr(codec, "words", None) is not None and \
                codec.words.symbols == self.vocab.symbols
        return (getattr(codec, "level", None), getattr(codec, "vocab", None),
                getattr(codec, "subword", None)) == (self.level, self.vocab, self.subword)

    def to_dict(self) -> dict:
        out = {"format": FORMAT, "version": VERSION, "level": self.level,
               "vocab": list(self.vocab.symbols)}
        return {**out, "subword": self.subword} if self.subword else out

    @classmethod
    def from_dict(cls, d: object) -> TextTokenizer:
        check_saved(d, FORMAT, VERSION, "text tokenizer")
        try:
            return cls(str(d["level"]), Vocab(tuple(d["vocab"])), str(d.get("subword", "")))
        except (KeyError, TypeError) as e:
            raise RnnkitError(f"text tokenizer is incomplete ({e})") from None

    def save(self, path: str | os.PathLike) -> Path:
        payload = json.dumps(self.to_dict(), ensure_ascii=False) + "\n"
        return atomic_write(path, lambda tmp: tmp.write_text(payload, encoding="utf-8"))

