"""``rnnkit train``: train a character language model (the main job) or resume a run."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from rnnkit.cli.args import (nonnegative_float, nonnegative_int, positive_float, positive_int,
                             probability, unit_fraction)
from rnnkit.cli.sample import print_sample
from rnnkit.cli.train_settings import train_config
from rnnkit.cli.gen_train import TASKS as GENERATION_TASKS
from rnnkit.cli.gen_train import (add_generation_flags, refuse_generation_flags,
                                  resume_generation, run_generation_task)
from rnnkit.cli.task_train import add_task_flags, refuse_task_flags, resume_task, run_task
from rnnkit.errors import RnnkitError
from rnnkit.models import ENCODERS, LMConfig
from rnnkit.models.baselines.transformer import POSITIONAL
from rnnkit.models.encoders import STATELESS
from rnnkit.train.config import OPTIMIZERS, PRECISIONS, TrainConfig
from rnnkit.train.diagnostics import stateless_note
from rnnkit.train.lm_job import (BUILTIN, PTB, TEST_NAMES, LMDataConfig, describe,
                                 read_run_config, train_lm)
from rnnkit.train.resumable import from_saved

# The main job's recipe: a 2-layer LSTM over characters, truncated BPTT, sized for minutes on two
# CPU cores (README: `make demo`).
DEFAULTS = dict(
    data=BUILTIN, cell="lstm", embed=128, hidden=256, layers=2, dropout=0.0, tie_weights=False,
    seq_len=128, batch_size=32, steps=2500, lr=6e-3, clip=1.0, warmup=100, weight_decay=0.01,
    seed=0, val_fraction=0.1, eval_every=250, checkpoint_every=250, positional="sinusoidal",
)


def add_parser(commands) -> None:
    p = commands.add_parser("train", help="train a model: language model (default), classifier, tagger, seq2seq, generator",
                            description="Train a recurrent character language model by "
                            "truncated BPTT. With no arguments: a 2-layer LSTM on the built-in "
                            "Shakespeare text.", argument_default=None)
    p.add_argument("--data", metavar="FILE", help=f"UTF-8 text file (default: {BUILTIN})")
    p.add_argument("--max-vocab", type=positive_int, metavar="N",
                   help="word level: keep the N most frequent words, the rest become <unk>")
    p.add_argument("--cell", choices=ENCODERS, metavar="CELL",
                   help=f"sequence encoder: {', '.join(ENCODERS)} (lstm)")
    p.add_argument("--embed", type=positive_int, metavar="N", help=f"embedding width ({DEFAULTS['embed']})")
    p.add_argument("--hidden", type=positive_int, metavar="N", help="state size per layer (256)")
    p.add_argument("--layers", type=positive_int, metavar="N", help="stacked layers (2)")
    p.add_argument("--dropout", type=probability, metavar="P", help="dropout rate (0)")
    p.add_argument("--tie-weights", action="store_true", default=None,
                   help="share embedding and output weights (needs --embed == --hidden)")
    p.add_argument("--positional", choices=POSITIONAL, metavar="KIND",
                   help="transformer position encoding: sinusoidal (default, any length) or "
                        "learned (a table of 128 positions)")
    p.add_argument("--bidirectional", action="store_true", default=None,
                   help="refused for a language model (it must be causal)")
    p.add_argument("--seq-len", type=positive_int, metavar="T", help="TBPTT window (128)")
    p.add_argument("--batch-size", type=positive_int, metavar="B", help=f"parallel lanes ({DEFAULTS['batch_size']})")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, metavar="N", help=f"optimizer updates ({DEFAULTS['steps']})")
    length.add_argument("--epochs", type=positive_float, metavar="E", help="passes over the text")
    p.add_argument("--lr", type=positive_float, metavar="LR", help=f"peak learning rate ({DEFAULTS['lr']})")
    clip = p.add_mutually_exclusive_group()
    clip.add_argument("--clip", type=positive_float, metavar="NORM",
                      help="clip the global gradient norm (1.0)")
    clip.add_argument("--no-clip", action="store_true", default=None, help="do not clip")
    p.add_argument("--warmup", type=nonnegative_int, metavar="N", help="warm-up steps (100)")
    p.add_argument("--min-lr-ratio", type=unit_fraction, metavar="F",
                   help="the cosine schedule's floor, as a fraction of --lr (0.1; 0 anneals to "
                        "zero, 1 keeps the rate constant after warm-up)")
    p.add_argument("--weight-decay", type=nonnegative_float, metavar="W", help="AdamW decay")
    p.add_argument("--seed", type=nonnegative_int, metavar="S", help="random seed (0)")
    p.add_argument("--split-seed", type=nonnegative_int, metavar="S",
                   help="classify, tag, seq2seq, condgen: seed of the train/test split "
                        "(default: --seed); keep it fixed to train several models on one split, "
                        "e.g. for rnnkit evaluate --ensemble")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="adamw (default), or sgd: plain SGD, the LSTM language-model recipe "
                        "(e.g. --lr 1 --clip 5 --weight-decay 0)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="fp32 (default), or bf16: mixed precision, the forward under bfloat16 "
                        "autocast (faster products where the CPU has bfloat16 instructions); "
                        "weights, optimizer and evaluation stay float32")
    p.add_argument("--val-fraction", type=probability, metavar="F",
                   help="tail of a --data file held out for validation (0.1)")
    p.add_argument("--eval-every", type=nonnegative_int, metavar="N", help="steps between evals")
    p.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help="steps between checkpoints (language model: 250; other tasks: "
                        "only at the end and on Ctrl-C unless given)")
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/<cell>-<time>)")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing run folder")
    p.add_argument("--resume", metavar="RUN",
                   help="continue the run in RUN, of any task, where its last checkpoint "
                        "stopped (more --steps too)")
    p.add_argument("--no-progress", action="store_true", default=None, help="no progress bar")
    p.add_argument("--diagnose-every", type=positive_int, metavar="N",
                   help="record the gradient norm at every timestep and layer every N steps "
                   "(gradient_heatmap.png, gradient_distance.png, diagnostics.json)")
    add_task_flags(p)
    add_generation_flags(p)
    p.set_defaults(handler=run)


def _settings(args: argparse.Namespace) -> dict:
    return {k: (getattr(args, k) if getattr(args, k, None) is not None else v)
            for k, v in DEFAULTS.items()}


def run(args: argparse.Namespace) -> int:
    if args.resume is not None:
        return _resume(args)
    if args.task in GENERATION_TASKS:
        return run_generation_task(args)
    if args.task != "lm":
        return run_task(args)
    refuse_task_flags(args)
    refuse_generation_flags(args, "lm")
    s = _settings(args)
    if args.bidirectional:
        raise RnnkitError("a language model must be causal, so it cannot be bidirectional: "
                          "the backward direction would read the very characters it has to "
                          "predict")
    out = Path(args.out or f"runs/{s['cell']}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and not out.is_dir():
        raise RnnkitError(f"--out '{out}' is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise RnnkitError(f"run folder '{out}' already exists; use --resume {out} to continue "
                          "it or --overwrite to replace it")
    level = args.level or ("word" if s["data"] == PTB else "char")
    data = LMDataConfig(s["data"], s["seq_len"], s["batch_size"], s["val_fraction"],
                        checkpoint_every=s["checkpoint_every"], level=level,
                        max_vocab=args.max_vocab or 0)
    train = train_config(args, s, steps=s["steps"], eval_every=s["eval_every"])
    overrides = dict(cell=s["cell"], embed_size=s["embed"], hidden_size=s["hidden"],
                     num_layers=s["layers"], dropout=s["dropout"], tie_weights=s["tie_weights"],
                     positional=s["positional"])
    _note_stateless(s["cell"], args.diagnose_every)
    result = train_lm(out, data, None, train, progress=not args.no_progress,
                      model_overrides=overrides, epochs=args.epochs,
                      diagnose_every=args.diagnose_every)
    return _report(result)


# What --resume accepts beside the run folder: the length, and how the run reports and saves.
RESUME_FLAGS = ("command", "handler", "resume", "task", "steps", "no_progress",
                "diagnose_every", "checkpoint_every", "classifier")


def _resume(args: argparse.Namespace) -> int:
    """Continue any run from its checkpoint, with its own data, model and settings."""
    fixed = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
             if v is not None and k not in RESUME_FLAGS]
    if fixed:
        raise RnnkitError(f"--resume continues a run with its own settings; drop {', '.join(fixed)}"
                          " (only --steps may change)")
    saved = read_run_config(args.resume)
    task = saved["task"]
    if args.task not in ("lm", task):
        raise RnnkitError(f"'{args.resume}' is a {task!r} run, not --task {args.task}")
    train = from_saved(TrainConfig, saved, "train", args.resume,
                       betas=tuple(saved.get("train", {}).get("betas", TrainConfig.betas)),
                       **({} if args.steps is None else {"steps": args.steps}))
    if task in GENERATION_TASKS:
        return resume_generation(args, saved, train)
    if task != "lm":
        return resume_task(args, saved, train)
    data = from_saved(LMDataConfig, saved, "data", args.resume,
                      **({} if args.checkpoint_every is None else
                         {"checkpoint_every": args.checkpoint_every}))
    model = from_saved(LMConfig, saved, "model", args.resume)
    _note_stateless(model.cell, args.diagnose_every)
    result = train_lm(args.resume, data, model, train, resume=True,
                      progress=not args.no_progress, diagnose_every=args.diagnose_every)
    return _report(result)


def _note_stateless(cell: str, diagnose_every: int | None) -> None:
    """One stderr line saying what --diagnose-every measures for a cell without a state."""
    if diagnose_every is not None and cell in STATELESS:
        print(f"rnnkit: note: {stateless_note(cell)}", file=sys.stderr)


def _report(result) -> int:
    minutes, seconds = divmod(result.seconds, 60)
    print(f"validation: {describe(result.val_loss, result.level)} "
          f"(loss {result.val_loss:.4f} nats) after {result.steps} steps; "
          f"{int(minutes)} min {seconds:.0f} s, {result.tokens_per_s:,.0f} tokens/s")
    if result.test_loss is not None:
        print(f"test ({TEST_NAMES[result.data]}): {describe(result.test_loss, result.level)} "
              f"(loss {result.test_loss:.4f} nats)")
    print(f"run folder: {result.run_dir}")
    print("sample:")
    print_sample(result.run_dir, prompt="\n", length=300 if result.level == "char" else 60,
                 temperature=0.8, seed=0)
    return 0 if math.isfinite(result.val_loss) else 2
