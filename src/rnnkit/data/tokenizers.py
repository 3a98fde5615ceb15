"""The language model's tokenizers by level: ``char`` (:class:`CharTokenizer`, any UTF-8 text),
``word`` (:class:`WordTokenizer`, whitespace words with ``<eos>`` at line breaks) and
``subword`` (:class:`TextTokenizer`, a BPE or unigram model, each line a text). A language model
of a labelled data set's texts always has a :class:`TextTokenizer`: it cuts text as that data
set's classifier does, so the classifier can start from it (``--init-from``).

Both have ``encode(text) -> ids``, ``decode(ids) -> text``, ``piece(id) -> streamed text``,
``unknown_symbols(text)``, ``vocab_size``, ``to_dict``/``save``; a saved tokenizer names its
format, so :func:`load_tokenizer` and :func:`tokenizer_from_dict` rebuild either.
"""

from __future__ import annotations

import os

from rnnkit.data import tokenizer as char_module
from rnnkit.data import word_tokenizer as word_module
from rnnkit.data import text_tokenizer as text_module
from rnnkit.data.text_tokenizer import TextTokenizer
from rnnkit.data.tokenizer import CharTokenizer, read_tokenizer_file
from rnnkit.data.word_tokenizer import WordTokenizer
from rnnkit.errors import RnnkitError

Tokenizer = CharTokenizer | WordTokenizer | TextTokenizer
LEVELS = ("char", "word", "subword")
_BY_FORMAT = {char_module.FORMAT: CharTokenizer, word_module.FORMAT: WordTokenizer,
              text_module.FORMAT: TextTokenizer}


def build_tokenizer(level: str, text: str, max_size: int = 0, *, subword_model: str = "bpe",
                    subword_vocab: int = 4000) -> Tokenizer:
    """The ``level`` tokenizer of ``text`` (``max_size`` caps a word vocabulary; 0: all)."""
    if level == "char":
        if max_size:
            raise RnnkitError("a vocabulary size limit applies to --level word")
        return CharTokenizer.from_text(text)
    if level == "word":
        return WordTokenizer.from_text(text, max_size)
    if level == "subword":
        return TextTokenizer.fit(text.split("\n"), "subword", max_vocab=max_size,
                                 subword_model=subword_model, subword_vocab=subword_vocab)
    raise RnnkitError(f"unknown tokenizer level {level!r}; choose one of {', '.join(LEVELS)}")


def tokenizer_from_dict(d: object) -> Tokenizer:
    """A tokenizer from its ``to_dict`` form, whichever level it is."""
    kind = _BY_FORMAT.get(d.get("format")) if isinstance(d, dict) else None
    if kind is None:
        raise RnnkitError(f"not an rnnkit tokenizer (expected format {' or '.join(_BY_FORMAT)})")
    return kind.from_dict(d)


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """A tokenizer saved by ``save``, whichever level it is."""
    return read_tokenizer_file(path, tokenizer_from_dict)
