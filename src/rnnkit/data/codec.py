"""Codecs: examples -> id or feature arrays, fixed by the training split and saved with a model.

One codec per kind of example (:mod:`rnnkit.data.datasets.dataset`):

* :class:`TextCodec`   -- a string -> word ids (``level="word"``: lower-cased ``\\w+`` runs and
  single punctuation marks, so ``#driverless`` is ``#``, ``driverless``), code-point ids
  (``level="char"``) or subword ids (``level="subword"``: a BPE or unigram model trained on the
  training part, :mod:`rnnkit.data.subword`, saved inside the codec);
* :class:`SeriesCodec` -- a (T, C) float array -> the same array standardised per channel with
  the training mean and standard deviation, optionally cut into frames of k steps (T/k, k*C):
  fewer, wider steps, which a recurrent encoder learns from more easily on long univariate
  series (LSTM-FCN's "dimension shuffle", Karim et al. 2018, is the extreme k = T);
* :class:`TagCodec`    -- a token tuple -> (T, 1 + W) ids: column 0 the lower-cased word's id,
  columns 1..W the ids of its first W characters (0 = padding), which the tagger's character
  encoder reads for rare and unseen words.

Sequences longer than ``max_len`` steps are cut to their first ``max_len``;
:meth:`encode_all` announces how many were, once. A codec is saved as a plain dict
(:meth:`to_dict`, :func:`codec_from_dict`) in the run folder and in the weights' metadata.

>>> codec = TextCodec.fit(["Good day", "bad day!"], ["pos", "neg"], level="word", max_len=8)
>>> codec.encode("good night!")
[3, 1, 5]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rnnkit.data.datasets.announce import warn
from rnnkit.data.subword import subword_pieces, train_subword
from rnnkit.data.vocab import LabelSet, Vocab
from rnnkit.errors import RnnkitError

UNSEEN = -1  # id of a tag the training data never had (evaluation counts it wrong)
WORD = re.compile(r"\w+|[^\w\s]")  # a word-level token: a run of word characters, or one mark


TEXT_LEVELS = ("word", "char", "subword")


def words(text: str) -> list[str]:
    """Word-level tokens of ``text``, lower-cased."""
    return WORD.findall(text.lower())


def text_tokens(level: str, text: str, subword: str = "") -> list[str]:
    """The tokens of ``text`` at ``level`` (``subword``: the subword model's JSON); level
    ``token``: a tagged sentence's tokens, whitespace-separated, lower-cased as TagCodec's words."""
    if level == "word":
        return words(text)
    if level == "token":
        return text.lower().split()
    if level == "char":
        return list(text)
    return subword_pieces(subword, text)


def fit_text_vocab(texts, level: str, *, min_count: int = 1, max_vocab: int | None = None,
                   subword_model: str = "bpe", subword_vocab: int = 4000) -> tuple[Vocab, str]:
    """The vocabulary of ``texts`` at ``level``, and the subword model trained on them (its
    JSON; "" for the other levels)."""
    if level not in (*TEXT_LEVELS, "token"):
        raise RnnkitError(f"text level must be one of {', '.join(TEXT_LEVELS)}, got {level!r}")
    texts = list(texts)
    subword = train_subword(texts, kind=subword_model, vocab_size=subword_vocab) \
        if level == "subword" else ""
    vocab = Vocab.build(texts, lambda t: text_tokens(level, t, subword), min_count=min_count,
                        max_size=max_vocab)
    return vocab, subword


def _truncated_warning(cut: int, total: int, max_len: int, unit: str) -> None:
    if cut:
        warn(f"{cut} of {total} sequences are longer than max_len={max_len} {unit} and were "
             f"truncated to their first {max_len}")


@dataclass(frozen=True)
class TextCodec:
    """Text -> token ids, and the label set."""

    level: str           # "word", "char" or "subword" (TEXT_LEVELS)
    vocab: Vocab         # ids of the tokens seen in training (0 pad, 1 unknown)
    labels: LabelSet     # the classes
    max_len: int         # longer texts keep their first max_len tokens
    subword: str = ""    # level "subword": the subword model (tokenizers JSON); else ""

    kind = "text"

    @classmethod
    def fit(cls, texts, labels, *, level: str = "word", max_len: int = 256,
            min_count: int = 1, max_vocab: int | None = None, subword_model: str = "bpe",
            subword_vocab: int = 4000) -> TextCodec:
        vocab, subword = fit_text_vocab(texts, level, min_count=min_count, max_vocab=max_vocab,
                                        subword_model=subword_model, subword_vocab=subword_vocab)
        return cls(level, vocab, LabelSet.build(labels), max_len, subword)

    def tokens(self, text: str) -> list[str]:
        return text_tokens(self.level, text, self.subword)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``'s first ``max_len`` tokens; one line for a text with no token."""
        ids = self.vocab.encode(self.tokens(text))
        if not ids:
            raise RnnkitError("the text is empty: nothing to classify")
        return ids[: self.max_len]

    def encode_all(self, texts) -> list[list[int]]:
        out = [self.encode(t) for t in texts]
        cut = sum(len(self.tokens(t)) > self.max_len for t in texts)
        _truncated_warning(cut, len(out), self.max_len, "tokens")
        return out

    def to_dict(self) -> dict:
        out = {"type": "text", "level": self.level, "vocab": list(self.vocab.symbols),
               "labels": list(self.labels.labels), "max_len": self.max_len}
        return {**out, "subword": self.subword} if self.subword else out


@dataclass(frozen=True)
class SeriesCodec:
    """(T, C) series -> standardised float32 arrays, and the label set."""

    channels: int              # C: values per time step
    mean: tuple[float, ...]    # per-channel training mean
    std: tuple[float, ...]     # per-channel training standard deviation (1 where it is 0)
    labels: LabelSet           # the classes
    max_len: int               # longer series keep their first max_len steps
    frame: int = 1             # k: k consecutive steps stacked into one model step of k*C

    kind = "series"

    @classmethod
    def fit(cls, series, labels, *, max_len: int = 1024, frame: int = 1) -> SeriesCodec:
        if not isinstance(frame, int) or frame < 1:
            raise RnnkitError(f"frame must be a positive integer, got {frame!r}")
        stacked = np.concatenate([np.asarray(s, dtype=np.float64) for s in series])  # (sum T, C)
        std = stacked.std(0)
        std[std == 0] = 1.0
        return cls(stacked.shape[1], tuple(map(float, stacked.mean(0))), tuple(map(float, std)),
                   LabelSet.build(labels), max_len, frame)

    @property
    def features(self) -> int:
        """Values per model step: k * C."""
        return self.frame * self.channels

    def encode(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.channels or x.shape[0] == 0:
            raise RnnkitError(f"expected a series of shape (steps, {self.channels}), got "
                              f"{tuple(x.shape)}")
        if not np.isfinite(x).all():
            raise RnnkitError("the series holds NaN or infinite values")
        x = ((x[: self.max_len] - np.float32(self.mean)) / np.float32(self.std))   # (T, C)
        k = self.frame
        if k > 1:  # repeat the last step up to a multiple of k, then stack k steps per frame
            x = np.concatenate([x, np.repeat(x[-1:], -len(x) % k, axis=0)])
            x = x.reshape(len(x) // k, k * self.channels)                      # (T/k, k*C)
        return x.astype(np.float32)

    def encode_all(self, series) -> list[np.ndarray]:
        cut = sum(len(s) > self.max_len for s in series)
        _truncated_warning(cut, len(series), self.max_len, "steps")
        return [self.encode(s) for s in series]

    def to_dict(self) -> dict:
        return {"type": "series", "channels": self.channels, "mean": list(self.mean),
                "std": list(self.std), "labels": list(self.labels.labels),
                "max_len": self.max_len, "frame": self.frame}


@dataclass(frozen=True)
class TagCodec:
    """Token tuples -> (T, 1 + W) word-and-character ids, and the tag set."""

    words: Vocab           # lower-cased word forms seen in training
    chars: Vocab           # characters seen in training (case kept)
    labels: LabelSet       # the tags
    max_len: int           # longer sentences keep their first max_len tokens
    max_word_len: int      # W: characters per word read by the character encoder

    kind = "tagged"

    @classmethod
    def fit(cls, sentences, tags, *, max_len: int = 200, max_word_len: int = 16,
            min_count: int = 1) -> TagCodec:
        word_vocab = Vocab.build(sentences, lambda s: [w.lower() for w in s],
                                 min_count=min_count)
        char_vocab = Vocab.build(sentences, lambda s: [c for w in s for c in w])
        return cls(word_vocab, char_vocab, LabelSet.build(t for ts in tags for t in ts),
                   max_len, max_word_len)

    def encode(self, tokens) -> np.ndarray:
        tokens = list(tokens)[: self.max_len]
        if not tokens:
            raise RnnkitError("the sentence is empty: nothing to tag")
        W = self.max_word_len
        out = np.zeros((len(tokens), 1 + W), dtype=np.int64)       # (T, 1 + W)
        out[:, 0] = self.words.encode(w.lower() for w in tokens)
        for t, word in enumerate(tokens):
            ids = self.chars.encode(word[:W])
            out[t, 1: 1 + len(ids)] = ids
        return out

    def encode_all(self, sentences) -> list[np.ndarray]:
        cut = sum(len(s) > self.max_len for s in sentences)
        _truncated_warning(cut, len(sentences), self.max_len, "tokens")
        return [self.encode(s) for s in sentences]

    def encode_tags(self, tags) -> np.ndarray:
        """Tag ids (T,), cut like the tokens; a tag never seen in training gets ``UNSEEN``."""
        index = self.labels._index
        return np.array([index.get(t, UNSEEN) for t in list(tags)[: self.max_len]])

    def to_dict(self) -> dict:
        return {"type": "tagged", "words": list(self.words.symbols),
                "chars": list(self.chars.symbols), "labels": list(self.labels.labels),
                "max_len": self.max_len, "max_word_len": self.max_word_len}


Codec = TextCodec | SeriesCodec | TagCodec


def codec_from_dict(d: dict) -> Codec:
    """Inverse of ``to_dict`` for any codec; one line for a dict it cannot read."""
    try:
        kind = d["type"]
        labels = LabelSet(tuple(d["labels"]))
        if kind == "text":
            level, subword = d["level"], d.get("subword")
            if level not in TEXT_LEVELS or (level == "subword") != bool(subword):
                raise ValueError(f"text level {level!r} with{'' if subword else 'out'} a "
                                 "subword model")
            return TextCodec(d["level"], Vocab(tuple(d["vocab"])), labels, int(d["max_len"]),
                             str(d.get("subword", "")))
        if kind == "series":
            return SeriesCodec(int(d["channels"]), tuple(d["mean"]), tuple(d["std"]), labels,
                               int(d["max_len"]), int(d.get("frame", 1)))
        if kind == "tagged":
            return TagCodec(Vocab(tuple(d["words"])), Vocab(tuple(d["chars"])), labels,
                            int(d["max_len"]), int(d["max_word_len"]))
    except (KeyError, TypeError, ValueError) as e:
        raise RnnkitError(f"saved codec is incomplete or corrupt ({e})") from None
    raise RnnkitError(f"unknown codec type {kind!r}")
