"""Language modelling (many-to-many aligned: next-token prediction), the main job.

    text -> tokenizer (characters, or words with <eos> at line breaks) -> one stream
      (or a labelled text data set's training texts, labels dropped, cut as its classifier
       cuts them: rnnkit.data.text_tokenizer; the pretraining step of ULMFiT)
      -> truncated BPTT windows of ``seq_len`` tokens over ``batch_size`` lanes
         (the state carried across windows, detached: Williams & Peng 1990)
      -> LanguageModel (embedding -> any encoder -> softmax over the vocabulary)

Figures: bits per character (``loss / ln 2``) for characters, perplexity (``exp loss``) for
words, on the validation tail and, for a built-in text, on its test part
(:mod:`rnnkit.data.lm_corpus`). ``predict`` continues prompts (:mod:`rnnkit.tasks.lm_use`).

The AWD-LSTM regularisers and NT-ASGD (Merity et al. 2018) are options of the word LM, off by
default: :mod:`rnnkit.tasks.awd_flags`.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data import StreamBatcher, eval_windows
from rnnkit.data.lm_corpus import BUILTIN, PTB, read_corpus, read_test_text, split_text
from rnnkit.data.datasets.registry import labelled_kind
from rnnkit.data.text import read_text
from rnnkit.data.text_tokenizer import TextTokenizer
from rnnkit.data.tokenizers import LEVELS, Tokenizer, build_tokenizer, tokenizer_from_dict
from rnnkit.errors import RnnkitError
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.models.lm import REGULARISERS, lm_meta_config
from rnnkit.models.portable import lm_graphs
from rnnkit.models.sizing import build_checked
from rnnkit.tasks import lm_use
from rnnkit.tasks.base import Task, epochs_of, train_config
from rnnkit.tasks.transfer import add_vectors_flag, initialiser
from rnnkit.tasks.awd_flags import add_awd_flags, asgd_interval
from rnnkit.tasks.flags import (SPLIT_SEED, add_csv_flags, add_diagnose_flag,
                                add_positional_flag, add_split_seed_flag, add_subword_flags,
                                add_test_split_flags, positive_int)
from rnnkit.train.loop import bpc_postfix, evaluate_loss, ppl_postfix
from rnnkit.train.losses import lm_loss
from rnnkit.train.metrics import LN2, MetricsLog
from rnnkit.train.run import RunResult, RunSetup, RunSpec
from rnnkit.train.run_folder import METRICS_FILE
from rnnkit.train.task_data import TaskDataConfig, unlabelled_texts
from rnnkit.typed import config_from

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class LMDataConfig:
    """Where the text comes from and how it is cut into windows."""

    data: str = BUILTIN          # a UTF-8 text file, builtin:shakespeare or builtin:ptb; or
    #                              a labelled text set (builtin:tweets, builtin:names, a .csv):
    #                              its training texts, one per line, labels dropped
    seq_len: int = 128           # truncated-BPTT window (tokens per backward pass)
    batch_size: int = 64         # parallel lanes of the stream
    val_fraction: float = 0.1    # tail held out for validation (a labelled set: the texts of
    #                              the validation cut its classifier makes, never trained on)
    eval_batch_size: int = 8     # lanes for validation: fewer lanes, fewer cold starts
    level: str = "char"          # tokens: "char" (any text), "word" (builtin:ptb is word) or
    #                              "subword"; a labelled set's are its classifier's (TextCodec)
    max_vocab: int = 0           # word level: keep the most frequent words (0: all)
    subword_model: str = "bpe"   # level "subword": "bpe" or "unigram"
    subword_vocab: int = 4000    # level "subword": pieces the model learns (at most)
    text_column: str = "text"    # a labelled .csv: the text column (the label is not read)
    label_column: str = "label"  # a labelled .csv: the label column (fixes the stratified split)
    encoding: str = "utf-8"      # a labelled .csv: its encoding
    test_fraction: float = 0.2   # a labelled set: its classifier's test part, never read here
    split_seed: int = 0          # a labelled set: seed of its classifier's test and val cuts
    extra_text: str | None = None  # a labelled set: more unlabelled texts (a UTF-8 file, one
    #                              per line) for training only; they must not hold its test texts

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise RnnkitError(f"unknown level {self.level!r}; choose one of {', '.join(LEVELS)}")
        if self.data == PTB and self.level != "word":
            raise RnnkitError(f"{PTB} is word-level data (Penn Treebank); drop --level char")

    def labelled(self) -> TaskDataConfig | None:
        """The classifier data config whose training texts this language model reads (None
        for a plain text)."""
        kind = labelled_kind(self.data)
        if kind is None:
            return None
        if not 0 < self.val_fraction < 1:
            raise RnnkitError("a language model of a labelled data set needs --val-fraction in "
                              "(0, 1): the texts of its classifier's validation cut")
        if kind == "tagged" and self.level != "word":
            raise RnnkitError(f"{self.data} holds tagged sentences; their language model reads "
                              "words, as the tagger does: give --level word")
        return TaskDataConfig(task="tag" if kind == "tagged" else "classify",
                              data=self.data, text_column=self.text_column,
                              label_column=self.label_column, encoding=self.encoding,
                              test_fraction=self.test_fraction, split_seed=self.split_seed,
                              val_fraction=self.val_fraction, level=self.level)


# The flags that read a labelled data set's texts (LMDataConfig fields of the same names).
LABELLED_FLAGS = ("subword_model", "subword_vocab", "text_column", "label_column", "encoding",
                  "test_fraction", "extra_text")


# ... and those of them a plain text refuses (the subword ones apply to any text).
PLAIN_REFUSED = ("text_column", "label_column", "encoding", "test_fraction", "extra_text")


def lm_figures(loss: float, level: str) -> dict:
    """A mean loss in nats as the level's figure: bits per character, or word perplexity."""
    if level == "char":
        return {"bpc": loss / LN2}
    return {"ppl": math.exp(min(loss, 700.0))}


def describe(loss: float, level: str) -> str:
    """``2.355 bits per character`` or ``perplexity 108.3`` (one line, for the CLI)."""
    figure = lm_figures(loss, level)
    return f"{figure['bpc']:.3f} bits per character" if level == "char" \
        else f"perplexity {figure['ppl']:.1f}"


@dataclass
class LMData:
    config: LMDataConfig
    tokenizer: Tokenizer
    train_ids: object            # (N,) token ids of the training text
    val_ids: object              # (M,) of the validation text
    sha256: str                  # of the whole text: a resume needs the same


def eval_lanes(data: LMDataConfig, n_ids: int, seq_len: int | None = None) -> int:
    """Lanes that score a stream of ``n_ids`` tokens: ``eval_batch_size``, fewer where the
    stream is too short for each lane to hold a window of ``seq_len`` (the run's) tokens."""
    return max(1, min(data.eval_batch_size, n_ids // ((seq_len or data.seq_len) + 1)))


def split_texts(data: LMDataConfig) -> tuple[str, str, list[str] | None]:
    """(training text, validation text, training texts) of ``data``: a plain text cut at its
    validation tail (training texts None), or a labelled set's training and validation texts,
    one per line, any ``extra_text`` mixed into the training ones (seeded), so that every lane
    of the stream has both. Training and ``rnnkit evaluate`` read the same validation text."""
    labelled = data.labelled()
    if labelled is None:
        text, val_start = read_corpus(data.data)
        return (*split_text(text, val_start, data.val_fraction), None)
    train_texts, val_texts = unlabelled_texts(labelled)
    if data.extra_text:
        train_texts += [t for t in read_text(data.extra_text).split("\n") if t.strip()]
        random.Random(data.split_seed).shuffle(train_texts)
    train_text, val_text = ("".join(t + "\n" for t in part) for part in (train_texts, val_texts))
    return train_text, val_text, train_texts


class LanguageModelTask(Task):
    name = "lm"
    help = "language model: next character or word (the main job)"
    data_class = LMDataConfig
    derived = ("vocab_size",)
    checkpoint_every = 250
    can_diagnose = True
    can_generate = True
    # The main job's recipe: a 2-layer LSTM over characters, truncated BPTT, minutes on 2 cores.
    defaults = dict(data=BUILTIN, cell="lstm", embed=128, hidden=256, layers=2, dropout=0.0,
                    tie_weights=False, seq_len=128, batch_size=32, steps=2500, lr=6e-3,
                    clip=1.0, warmup=100, weight_decay=0.01, seed=0, val_fraction=0.1,
                    eval_every=250, positional="sinusoidal", max_vocab=0, weight_drop=0.0,
                    embed_dropout=0.0, locked_dropout=False, ar=0.0, tar=0.0, asgd=False)

    def add_train_flags(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--level", choices=LEVELS,
                       help="char (any text), word: whitespace-separated words with <eos> at "
                            "line breaks (builtin:ptb is word-level), or subword; a labelled "
                            "data set's texts are cut as its classifier cuts them")
        p.add_argument("--max-vocab", type=positive_int, metavar="N",
                       help="word level: keep the N most frequent words, the rest become <unk>")
        p.add_argument("--tie-weights", action="store_true",
                       help="share embedding and output weights (needs --embed == --hidden)")
        p.add_argument("--seq-len", type=positive_int, metavar="T", help="the TBPTT window")
        add_subword_flags(p)
        add_vectors_flag(p)
        p.add_argument("--extra-text", metavar="FILE",
                       help="a labelled data set: more unlabelled texts, one per line, to "
                            "pretrain on beside its training texts (never its test texts)")
        add_csv_flags(p)
        add_test_split_flags(p, test_data=False)
        add_split_seed_flag(p)
        add_positional_flag(p)
        add_diagnose_flag(p)
        add_awd_flags(p)

    def spec(self, s: dict) -> RunSpec:
        if labelled_kind(s["data"]) is None:
            given = [k for k in (*PLAIN_REFUSED, "split_seed") if k in s]
            if given:
                flag = "--" + given[0].replace("_", "-")
                raise RnnkitError(f"{flag} does not apply to rnnkit train lm of a plain text; "
                                  "it reads a labelled data set's texts (builtin:tweets, "
                                  "builtin:names, a .csv or .conllu file)")
        level = s.get("level") or ("word" if s["data"] == PTB else "char")
        data = LMDataConfig(s["data"], s["seq_len"], s["batch_size"], s["val_fraction"],
                            level=level, max_vocab=s["max_vocab"],
                            split_seed=s.get("split_seed", SPLIT_SEED),
                            **{k: s[k] for k in LABELLED_FLAGS if k in s})
        model = dict(cell=s["cell"], embed_size=s["embed"], hidden_size=s["hidden"],
                     num_layers=s["layers"], dropout=s["dropout"], tie_weights=s["tie_weights"],
                     positional=s["positional"], **{k: s[k] for k in REGULARISERS})
        return RunSpec(data, model, train_config(s, asgd_nonmono=asgd_interval(s)), epochs_of(s),
                       {"vectors": s["vectors"]} if s.get("vectors") else {})

    def default_out(self, s: dict) -> Path:
        return Path(f"runs/{s['cell']}-{time.strftime('%Y%m%d-%H%M%S')}")

    def prepare(self, data: LMDataConfig) -> LMData:
        train_text, val_text, texts = split_texts(data)
        if texts is None:
            tokenizer = build_tokenizer(data.level, train_text, data.max_vocab,
                                        subword_model=data.subword_model,
                                        subword_vocab=data.subword_vocab)
        else:                         # one text per line; the classifier's tokens and ids
            level = "token" if data.labelled().task == "tag" else data.level  # TagCodec's
            tokenizer = TextTokenizer.fit(texts, level, max_vocab=data.max_vocab,
                                          subword_model=data.subword_model,
                                          subword_vocab=data.subword_vocab)
        text = train_text + val_text
        return LMData(data, tokenizer, tokenizer.encode(train_text), tokenizer.encode(val_text),
                      hashlib.sha256(text.encode("utf-8")).hexdigest())

    def build(self, prepared: LMData, model: dict, spec: RunSpec) -> RunSetup:
        data, tokenizer = prepared.config, prepared.tokenizer
        config = config_from(LMConfig, model, "the model settings",
                             vocab_size=tokenizer.vocab_size)
        net = build_checked(lambda: LanguageModel(config))
        batcher = StreamBatcher(prepared.train_ids, data.batch_size, data.seq_len)
        lanes = eval_lanes(data, len(prepared.val_ids))
        list(eval_windows(prepared.val_ids, lanes, data.seq_len))  # a too-short tail fails now

        def evaluate() -> dict:
            result = evaluate_loss(net, lm_loss, eval_windows(prepared.val_ids, lanes,
                                                              data.seq_len))
            return {**result, **lm_figures(result["loss"], data.level)}

        return RunSetup(
            net, config, batcher, batcher.windows_per_epoch, lm_loss,
            meta={"task": self.name, "model": lm_meta_config(config),
                  "tokenizer": tokenizer.to_dict()},
            files={TOKENIZER_FILE: tokenizer.to_dict()},
            fingerprint={"data_sha256": prepared.sha256}, evaluate=evaluate,
            postfix=bpc_postfix if data.level == "char" else ppl_postfix,
            title=f"{config.cell} {data.level}-level language model", bpc=data.level == "char",
            initialise=initialiser(spec.options, net, tokenizer, embed_size=config.embed_size),
            penalty=net.take_penalty if config.ar or config.tar else None)

    def test(self, run_dir: Path, prepared: LMData, setup: RunSetup, spec: RunSpec,
             step: int) -> dict | None:
        data = prepared.config
        text = read_test_text(data.data)
        if text is None:
            return None
        ids = prepared.tokenizer.encode(text)
        loss = evaluate_loss(setup.model, lm_loss, eval_windows(
            ids, eval_lanes(data, len(ids)), data.seq_len))["loss"]
        figures = {"loss": loss, **lm_figures(loss, data.level)}
        MetricsLog(run_dir / METRICS_FILE).write({"kind": "test", "step": step, **figures})
        return {**figures, "data": data.data, "level": data.level}

    def report(self, result: RunResult, spec: RunSpec) -> int:
        return lm_use.report(result, spec, describe)

    portable_graphs = staticmethod(lm_graphs)   # rnnkit export's graphs

    def from_meta(self, meta: dict):
        config = config_from(LMConfig, meta.get("model"), "the model config")
        return build_checked(lambda: LanguageModel(config), training=False), \
            tokenizer_from_dict(meta.get("tokenizer"))

    add_predict_flags = staticmethod(lm_use.add_predict_flags)
    predict = staticmethod(lm_use.predict)
    add_evaluate_flags = staticmethod(lm_use.add_evaluate_flags)
    add_generate_flags = staticmethod(lm_use.add_generate_flags)
    add_diagnose_flags = staticmethod(lm_use.add_diagnose_flags)

    def show(self, output: dict) -> str:
        return output["prompt"] + output["text"]

    def evaluate(self, run_dir: Path, config: dict, options: dict) -> int:
        return lm_use.evaluate(run_dir, config, options, describe)

    def generate(self, run_dir: Path, options: dict, *, loaded: tuple | None = None) -> int:
        return lm_use.generate(run_dir, options, loaded=loaded)

    def diagnosis_batch(self, run_dir, config, model, codec, batch_size, options):
        return lm_use.diagnosis_batch(config, model, codec, batch_size, options)
