"""``rnnkit train --task classify|tag``: the flags a classifier or tagger adds to ``train``,
and the run that uses them (the language model keeps ``train_cmd``'s own path)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnnkit.cli.args import positive_int, probability, refuse_flags, split_seed
from rnnkit.cli.gen_train import refuse_generation_flags
from rnnkit.cli.train_settings import train_config
from rnnkit.errors import RnnkitError
from rnnkit.models.pooling import POOLINGS
from rnnkit.train.config import TrainConfig
from rnnkit.train.resumable import from_saved
from rnnkit.train.task_data import TaskDataConfig
from rnnkit.train.task_eval import evaluate_task
from rnnkit.train.task_job import train_task

# Used where a flag is not given: sized for minutes on two CPU cores.
DEFAULTS = dict(cell="lstm", embed=64, hidden=128, layers=1, dropout=0.2, batch_size=32,
                lr=3e-3, clip=1.0, warmup=50, weight_decay=0.01, seed=0, val_fraction=0.1,
                pooling="last", char_hidden=32, epochs=10.0)
LM_ONLY = ("tie_weights", "seq_len", "max_vocab")


def add_task_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("classification and tagging (--task classify|tag)")
    g.add_argument("--task", choices=("lm", "classify", "tag", "condgen", "seq2seq"),
                   default="lm",
                   help="lm: character language model (default); classify: one label per "
                   "sequence; tag: one tag per token; condgen: a sequence from one condition; "
                   "seq2seq: a sequence from a sequence")
    g.add_argument("--text-column", metavar="NAME", help="CSV column with the text (text)")
    g.add_argument("--label-column", metavar="NAME", help="CSV column with the label (label)")
    g.add_argument("--encoding", metavar="ENC", help="CSV encoding (utf-8)")
    g.add_argument("--test-data", metavar="FILE", help="test on this file (same format)")
    g.add_argument("--test-fraction", type=probability, metavar="F",
                   help="held out for test when the data has no split (0.2)")
    g.add_argument("--level", choices=("word", "char"),
                   help="text tokens: classify and tag read words by default; the language "
                        "model reads characters (words: whitespace-separated, <eos> at line "
                        "breaks; builtin:ptb is word-level)")
    g.add_argument("--max-len", type=positive_int, metavar="T",
                   help="steps kept per sequence; longer ones are cut, with a warning (256)")
    g.add_argument("--frame", type=positive_int, metavar="K",
                   help="series: stack K steps into one model step (1)")
    g.add_argument("--pooling", choices=POOLINGS, help="classifier pooling (last)")
    g.add_argument("--unidirectional", action="store_true", default=None,
                   help="read sequences left to right only (default: bidirectional)")
    g.add_argument("--class-weights", action="store_true", default=None,
                   help="weight the loss by inverse class frequency")
    g.add_argument("--char-hidden", type=int, metavar="N",
                   help="tagger: character encoder size per direction, 0 = none (32)")
    g.add_argument("--word-dropout", type=probability, metavar="P",
                   help="tagger: chance a training word becomes unknown (0.05)")


TASK_ONLY = ("text_column", "label_column", "encoding", "test_data", "test_fraction",
             "split_seed", "max_len", "frame", "pooling", "unidirectional", "class_weights",
             "char_hidden", "word_dropout")


def refuse_task_flags(args: argparse.Namespace) -> None:
    """One line when a classification/tagging flag is given to the language model."""
    refuse_flags(args, TASK_ONLY, "to --task classify or tag, not the language model")


def _setting(args, name):
    value = getattr(args, name, None)
    return DEFAULTS.get(name) if value is None else value


def run_task(args: argparse.Namespace) -> int:
    """Train a classifier or tagger, then evaluate it on its test split."""
    given = [f"--{n.replace('_', '-')}" for n in LM_ONLY if getattr(args, n, None)]
    if given:
        raise RnnkitError(f"{', '.join(given)} apply to --task lm only")
    refuse_generation_flags(args, args.task)
    if args.bidirectional and args.unidirectional:
        raise RnnkitError("--bidirectional and --unidirectional contradict each other")
    s = {k: _setting(args, k) for k in DEFAULTS}
    if args.steps is not None:
        s["epochs"] = None
    out = Path(args.out or f"runs/{args.task}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and not out.is_dir():
        raise RnnkitError(f"--out '{out}' is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise RnnkitError(f"run folder '{out}' already exists; use --overwrite to replace it")
    base = TaskDataConfig()
    data = TaskDataConfig(
        task=args.task, data=args.data or base.data,
        text_column=args.text_column or base.text_column,
        label_column=args.label_column or base.label_column,
        encoding=args.encoding or base.encoding, test_data=args.test_data,
        test_fraction=args.test_fraction or base.test_fraction,
        split_seed=split_seed(args, s["seed"]),
        val_fraction=s["val_fraction"], level=args.level or base.level,
        max_len=args.max_len or base.max_len, frame=args.frame or base.frame,
        batch_size=s["batch_size"], class_weights=bool(args.class_weights))
    if args.data is None:
        raise RnnkitError(f"--task {args.task} needs --data builtin:NAME or a file "
                          "(`rnnkit datasets` lists the built-in names)")
    bidirectional = not args.unidirectional
    if args.task == "tag":
        model = dict(cell=s["cell"], word_embed=s["embed"], hidden_size=s["hidden"],
                     num_layers=s["layers"], dropout=s["dropout"], bidirectional=bidirectional,
                     char_hidden=s["char_hidden"], positional=args.positional or "sinusoidal")
        if args.word_dropout is not None:
            model["word_dropout"] = args.word_dropout
    else:
        model = dict(cell=s["cell"], input_size=s["embed"], hidden_size=s["hidden"],
                     num_layers=s["layers"], dropout=s["dropout"], bidirectional=bidirectional,
                     pooling=s["pooling"], positional=args.positional or "sinusoidal")
    train = train_config(args, s, steps=args.steps or 1, eval_every=args.eval_every or 0)
    result = train_task(out, data, model, train, epochs=s["epochs"],
                        progress=not args.no_progress, diagnose_every=args.diagnose_every,
                        checkpoint_every=args.checkpoint_every or 0)
    return _report(args.task, result)


def resume_task(args: argparse.Namespace, saved: dict, train: TrainConfig) -> int:
    """Continue a classify/tag run from its checkpoint (``rnnkit train --resume RUN``)."""
    data = from_saved(TaskDataConfig, saved, "data", args.resume)
    result = train_task(args.resume, data, {}, train, progress=not args.no_progress,
                        diagnose_every=args.diagnose_every,
                        checkpoint_every=args.checkpoint_every or 0, saved=saved)
    return _report(saved["task"], result)


def _report(task: str, result) -> int:
    out = result.run_dir
    minutes, seconds = divmod(result.seconds, 60)
    val = f"validation accuracy {result.val_accuracy:.4f}; " \
        if result.val_accuracy is not None else ""
    print(f"trained {result.parameters:,} parameters for {result.steps} steps in "
          f"{int(minutes)} min {seconds:.0f} s; {val}run folder: {result.run_dir}")
    report = evaluate_task(out)
    print(f"test: accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f} "
          f"({report['count']:,} {'tokens' if task == 'tag' else 'examples'})")
    return 0
