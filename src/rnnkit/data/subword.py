"""Subword tokens (``--level subword``): a BPE or unigram model from Hugging Face ``tokenizers``,
trained on the training part only and saved, as its own JSON, with the run.

* BPE (Sennrich, Haddow & Birch 2016, "Neural Machine Translation of Rare Words with Subword
  Units"): start from characters and merge the most frequent adjacent pair until the vocabulary
  has ``vocab_size`` entries; a word is then cut into the longest learned pieces (continuation
  pieces carry a ``##`` prefix).
* unigram (Kudo 2018, "Subword Regularization"): start from many candidate pieces and drop the
  ones whose removal costs the unigram likelihood least; a word is cut into its most probable
  segmentation.

Text is lower-cased and split into ``\\w+`` runs and punctuation before the model cuts it, like
the word level (:func:`rnnkit.data.codec.words`), so a rare word becomes known pieces instead of
the unknown id. ``tokenizers`` is optional (``pip install 'rnnkit[text]'``); it is imported
only here, and its absence is one line.

>>> model = train_subword(["lower newer", "newest lowest"], vocab_size=30)  # doctest: +SKIP
>>> subword_pieces(model, "newer lowest")                                # doctest: +SKIP
['newer', 'low', '##est']
"""

from __future__ import annotations

from functools import lru_cache

from rnnkit.errors import RnnkitError

SUBWORD_MODELS = ("bpe", "unigram")
UNK_PIECE = "[UNK]"
INSTALL = "pip install tokenizers==0.23.3   (or: pip install 'rnnkit[text]')"


def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise RnnkitError(f"--level subword needs the 'tokenizers' package, which is not "
                          f"installed; install it with: {INSTALL}") from None
    return tokenizers


def train_subword(texts, *, kind: str = "bpe", vocab_size: int = 4000) -> str:
    """A ``kind`` subword model of at most ``vocab_size`` pieces trained on ``texts``, as the
    JSON that :func:`subword_pieces` reads."""
    if kind not in SUBWORD_MODELS:
        raise RnnkitError(f"unknown subword model {kind!r}; choose one of "
                          f"{', '.join(SUBWORD_MODELS)}")
    if not isinstance(vocab_size, int) or vocab_size < 2:
        raise RnnkitError(f"a subword vocabulary needs at least 2 pieces, got {vocab_size!r}")
    tk = _tokenizers()
    models, trainers = tk.models, tk.trainers
    if kind == "bpe":
        tokenizer = tk.Tokenizer(models.BPE(unk_token=UNK_PIECE, continuing_subword_prefix="##"))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[UNK_PIECE],
                                      continuing_subword_prefix="##", show_progress=False)
        tokenizer.decoder = tk.decoders.WordPiece(prefix="##")
    else:
        tokenizer = tk.Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=[UNK_PIECE],
                                          unk_token=UNK_PIECE, show_progress=False)
        tokenizer.decoder = tk.decoders.Metaspace()
    tokenizer.normalizer = tk.normalizers.Lowercase()
    tokenizer.pre_tokenizer = tk.pre_tokenizers.Whitespace() if kind == "bpe" else \
        tk.pre_tokenizers.Sequence([tk.pre_tokenizers.Whitespace(), tk.pre_tokenizers.Metaspace()])
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    return tokenizer.to_str()


@lru_cache(maxsize=8)
def _load(model: str):
    try:
        return _tokenizers().Tokenizer.from_str(model)
    except Exception as e:      # tokenizers raises its own exception types
        raise RnnkitError(f"the saved subword model cannot be read ({e})") from None


def subword_pieces(model: str, text: str) -> list[str]:
    """``text`` cut into the pieces of the subword ``model`` (its JSON)."""
    return _load(model).encode(text, add_special_tokens=False).tokens


def join_pieces(model: str, pieces: list[str]) -> str:
    """Pieces back to text (the model's own decoder: ``##`` or ``▁`` marks word boundaries)."""
    return _load(model).decoder.decode(pieces)
