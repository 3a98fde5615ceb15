"""Command-line flags: argument types that reject nonsense in one line, and the groups of flags
that several tasks share (each task adds them to its own subcommand, so a flag exists only where
it applies and argparse refuses it everywhere else).

Train flags are parsed with ``argparse.SUPPRESS`` defaults: a flag not given is absent, so
``{**task.defaults, **given}`` is the run's settings and ``--resume`` can tell what was given.
"""

from __future__ import annotations

import argparse
import math

from rnnkit.data.subword import SUBWORD_MODELS
from rnnkit.models.encoders import ENCODERS
from rnnkit.models.baselines.transformer import POSITIONAL
from rnnkit.train.config import OPTIMIZERS, PRECISIONS


def _int(text: str, minimum: int, wanted: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    return _int(text, 0, "an integer >= 0")


MAX_GENERATED = 1_000_000     # tokens one command generates per prompt (hours on a CPU)


def generation_length(text: str) -> int:
    """``--length`` / ``--max-length`` of generation: 0 .. MAX_GENERATED tokens."""
    value = _int(text, 0, "an integer >= 0")
    if value > MAX_GENERATED:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_GENERATED:,} tokens, got "
                                         f"{value:,}")
    return value


def positive_generation_length(text: str) -> int:
    value = generation_length(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def seed(text: str) -> int:
    """A random seed in [0, 2**32) (what NumPy accepts)."""
    value = _int(text, 0, "an integer >= 0")
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be below 2**32, got {value}")
    return value


def learning_rate(text: str) -> float:
    """A peak learning rate in (0, 1000]: larger ones only ever diverge."""
    value = positive_float(text)
    if value > 1000:
        raise argparse.ArgumentTypeError(f"must be at most 1000, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def nonnegative_float(text: str) -> float:
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def probability(text: str) -> float:
    """A dropout-like rate in [0, 1)."""
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def unit_fraction(text: str) -> float:
    """A fraction in [0, 1], both ends included."""
    value = _float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def unit_interval(text: str) -> float:
    """A nucleus mass in (0, 1]."""
    value = _float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def escaped_text(text: str) -> str:
    r"""A string whose ``\n``, ``\t`` and ``\\`` mean newline, tab and backslash (as typed in a
    shell: ``--stop "\n\n"`` stops at a blank line)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def add_common_train_flags(p: argparse.ArgumentParser, cells: tuple[str, ...] = ENCODERS) -> None:
    """The flags every task's ``rnnkit train`` takes: data, model size, optimisation, run."""
    p.add_argument("--data", metavar="DATA", help="builtin:NAME or a file")
    p.add_argument("--cell", choices=cells, metavar="CELL", help=f"{', '.join(cells)}")
    p.add_argument("--embed", type=positive_int, metavar="N", help="embedding width")
    p.add_argument("--hidden", type=positive_int, metavar="N", help="state size per layer")
    p.add_argument("--layers", type=positive_int, metavar="N", help="stacked layers")
    p.add_argument("--dropout", type=probability, metavar="P", help="dropout rate")
    p.add_argument("--batch-size", type=positive_int, metavar="B", help="sequences per batch")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, metavar="N", help="optimizer updates")
    length.add_argument("--epochs", type=positive_float, metavar="E", help="passes over the data")
    p.add_argument("--lr", type=learning_rate, metavar="LR", help="peak learning rate")
    clip = p.add_mutually_exclusive_group()
    clip.add_argument("--clip", type=positive_float, metavar="NORM",
                      help="clip the global gradient norm")
    clip.add_argument("--no-clip", action="store_true", help="do not clip")
    p.add_argument("--warmup", type=nonnegative_int, metavar="N", help="warm-up steps")
    p.add_argument("--min-lr-ratio", type=unit_fraction, metavar="F",
                   help="the cosine schedule's floor, as a fraction of --lr (0 anneals to zero, "
                        "1 keeps the rate constant after warm-up)")
    p.add_argument("--weight-decay", type=nonnegative_float, metavar="W", help="weight decay")
    p.add_argument("--seed", type=seed, metavar="S", help="random seed")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="adamw, or sgd: plain SGD (the LSTM language-model recipe)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="fp32, or bf16: the forward under bfloat16 autocast; weights, "
                        "optimizer and evaluation stay float32")
    p.add_argument("--val-fraction", type=probability, metavar="F",
                   help="share of the training data held out for validation")
    p.add_argument("--eval-every", type=nonnegative_int, metavar="N",
                   help="steps between evaluations (0: only at the end)")
    p.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help="steps between checkpoints (besides the end and Ctrl-C)")
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/<task>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--resume", metavar="RUN",
                   help="continue RUN where its last checkpoint stopped (only --steps, "
                        "--checkpoint-every and --no-progress may be given with it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=positive_int, metavar="N",
                   help="train in N data-parallel processes on this machine (torchrun; "
                        "--batch-size is the total over them); several machines: "
                        "torchrun ... -m rnnkit train, see docs/distributed.md")


def add_positional_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--positional", choices=POSITIONAL, metavar="KIND",
                   help="transformer position encoding: sinusoidal (any length) or learned")


SPLIT_SEED = 0   # --split-seed when not given, whatever --seed is: seeds share one test split


def add_split_seed_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split-seed", type=seed, metavar="S",
                   help=f"seed of the train/test split and the validation cut (default "
                        f"{SPLIT_SEED}, whatever --seed is: runs with other seeds share one "
                        f"test split)")


def add_diagnose_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--diagnose-every", type=positive_int, metavar="N",
                   help="record the gradient norm at every timestep and layer every N steps "
                        "(gradient_heatmap.png, gradient_distance.png, diagnostics.json)")


def add_csv_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-column", metavar="NAME", help="CSV column with the text")
    p.add_argument("--label-column", metavar="NAME", help="CSV column with the label")
    p.add_argument("--encoding", metavar="ENC", help="CSV text encoding")


def add_subword_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subword-model", choices=SUBWORD_MODELS,
                   help="--level subword: BPE merges or a unigram model (Hugging Face tokenizers)")
    p.add_argument("--subword-vocab", type=positive_int, metavar="N",
                   help="--level subword: pieces the model learns from the training texts")


def add_test_split_flags(p: argparse.ArgumentParser, *, test_data: bool = True) -> None:
    if test_data:
        p.add_argument("--test-data", metavar="FILE", help="test on this file (same format)")
    p.add_argument("--test-fraction", type=probability, metavar="F",
                   help="held out for test when the data has no split of its own")


def add_sampling_flags(p: argparse.ArgumentParser) -> None:
    """Temperature, top-k, top-p, seed and stop strings of sampled generation."""
    p.add_argument("--temperature", type=nonnegative_float, metavar="T",
                   help="0 = greedy; lower is more conservative (0.8)")
    p.add_argument("--top-k", type=positive_int, metavar="K", help="sample from the K likeliest")
    p.add_argument("--top-p", type=unit_interval, metavar="P", help="nucleus sampling mass")
    p.add_argument("--seed", type=seed, metavar="S", help="for a repeatable sample")
    p.add_argument("--stop", action="append", metavar="TEXT", type=escaped_text,
                   help="end when the generated text contains TEXT, which is not shown; "
                        "\\n is a newline (repeatable)")
