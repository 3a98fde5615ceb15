"""Character-level tokenizer for any UTF-8 text.

A token is one Unicode code point: Turkish ``ı ş ğ İ``, Cyrillic or emoji are characters like
any other. The vocabulary is the sorted set of characters of the training text, with ids
``1..N``; id ``0`` is the unknown symbol ``UNK`` (U+FFFD, the Unicode replacement character),
which is what characters never seen in training become.

>>> tok = CharTokenizer.from_text("kış")
>>> tok.encode("şık!").tolist()
[3, 2, 1, 0]
>>> tok.decode([3, 2, 1, 0])
'şık\\ufffd'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from rnnkit.data.text import atomic_write
from rnnkit.data.files import read_input_bytes
from rnnkit.errors import RnnkitError

UNK = "\ufffd"  # id 0: characters the vocabulary has never seen
FORMAT = "rnnkit.char_tokenizer"  # the "format" key in the saved JSON
VERSION = 1  # the "version" key in the saved JSON


@dataclass(frozen=True)
class CharTokenizer:
    """Maps text to ids and back, one id per code point; immutable once built."""

    chars: tuple[str, ...]  # the vocabulary; chars[i] has id i + 1 (id 0 is UNK)
    _codes: np.ndarray = field(init=False, repr=False, compare=False)  # (N,) sorted code points
    _ids: np.ndarray = field(init=False, repr=False, compare=False)  # (N,) id of each _codes entry

    def __post_init__(self) -> None:
        chars = tuple(self.chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise RnnkitError(f"tokenizer vocabulary entry {c!r} is not a single character")
            if 0xD800 <= ord(c) <= 0xDFFF:
                raise RnnkitError(f"tokenizer vocabulary holds a lone surrogate U+{ord(c):04X}")
        if len(set(chars)) != len(chars):
            raise RnnkitError("tokenizer vocabulary has repeated characters")
        if UNK in chars:
            raise RnnkitError("tokenizer vocabulary must not hold the unknown symbol U+FFFD")
        codes = np.fromiter((ord(c) for c in chars), dtype=np.int64, count=len(chars))
        order = np.argsort(codes, kind="stable")
        object.__setattr__(self, "chars", chars)
        object.__setattr__(self, "_codes", codes[order])
        object.__setattr__(self, "_ids", order + 1)

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """Vocabulary = sorted distinct characters of ``text`` (UNK excluded: it is id 0)."""
        return cls(tuple(sorted(set(text) - {UNK})))

    @property
    def vocab_size(self) -> int:
        """Number of ids, UNK included: ``len(chars) + 1``."""
        return len(self.chars) + 1

    def encode(self, text: str) -> torch.Tensor:
        """``text`` -> LongTensor (T,) of ids; unseen characters become 0 (UNK).

        Vectorised: the text is viewed as UTF-32 code points and looked up in the sorted code
        table with one ``searchsorted``: a few array passes, no Python step per character.
        """
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        points = points.astype(np.int64)  # (T,)
        if len(self._codes) == 0:
            return torch.zeros(len(points), dtype=torch.long)
        pos = np.searchsorted(self._codes, points).clip(max=len(self._codes) - 1)  # (T,)
        ids = np.where(self._codes[pos] == points, self._ids[pos], 0)  # (T,)
        return torch.from_numpy(ids.astype(np.int64))

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Ids (list or tensor of any shape, flattened) -> text; id 0 decodes to UNK."""
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        ids = list(ids)
        if ids and not (0 <= min(ids) and max(ids) < self.vocab_size):
            bad = next(i for i in ids if not 0 <= i < self.vocab_size)
            raise RnnkitError(
                f"token id {bad} is outside the vocabulary (0..{self.vocab_size - 1})"
            )
        table = (UNK, *self.chars)
        return "".join(map(table.__getitem__, ids))

    def unknown_chars(self, text: str) -> list[str]:
        """Distinct characters of ``text`` outside the vocabulary, in order of first appearance.

        UNK itself is not reported: it has id 0 and round-trips.
        """
        missing = set(text) - set(self.chars) - {UNK}
        return sorted(missing, key=text.index)

    def to_dict(self) -> dict:
        """JSON-ready description: format tag, version, the UNK string and the characters."""
        return {"format": FORMAT, "version": VERSION, "unk": UNK, "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: object) -> CharTokenizer:
        """Inverse of :meth:`to_dict`; RnnkitError if ``d`` does not have that shape."""
        check_saved(d, FORMAT, VERSION, "character tokenizer")
        if d.get("unk") != UNK:
            raise RnnkitError(f"tokenizer unknown symbol {d.get('unk')!r} is not U+FFFD")
        chars = d.get("chars")
        if not isinstance(chars, list):
            raise RnnkitError("tokenizer 'chars' must be a list of characters")
        return cls(tuple(chars))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the JSON atomically (temp file in the same folder, then ``os.replace``)."""
        payload = json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n"
        return atomic_write(path, lambda tmp: tmp.write_text(payload, encoding="utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        """Read a file written by :meth:`save`; RnnkitError if missing, not JSON or wrong shape."""
        return read_tokenizer_file(path, cls.from_dict)

    def piece(self, token: int) -> str:
        """One id as streamed text: its character (id 0: UNK)."""
        if not 0 <= token < self.vocab_size:
            raise RnnkitError(f"token id {token} is outside the vocabulary "
                              f"(0..{self.vocab_size - 1})")
        return self.chars[token - 1] if token else UNK

    def unknown_symbols(self, text: str) -> list[str]:
        """The tokenizer-independent name of :meth:`unknown_chars`."""
        return self.unknown_chars(text)


def check_saved(d: object, fmt: str, version: int, what: str) -> None:
    """RnnkitError unless ``d`` is a dict saved in format ``fmt`` at ``version``."""
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise RnnkitError(f"not an rnnkit {what} (expected format '{fmt}')")
    if d.get("version") != version:
        raise RnnkitError(f"{what} version {d.get('version')!r} is not supported")


def read_tokenizer_file(path: str | os.PathLike, from_dict):
    """``from_dict`` of the JSON in ``path``, with one-line errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise RnnkitError(f"tokenizer file '{path}' does not exist")
    try:
        d = json.loads(read_input_bytes(path, what="tokenizer file").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RnnkitError(f"tokenizer file '{path}' is corrupt: {e}") from None
    try:
        return from_dict(d)
    except RnnkitError as e:
        raise RnnkitError(f"tokenizer file '{path}': {e}") from None
