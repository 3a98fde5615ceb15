"""Argument types that reject nonsense with a one-line message (argparse prints it, exit 2), and
the checks that tie flags to each other or to a kind of run."""

from __future__ import annotations

import argparse
import math

from rnnkit.errors import RnnkitError
from rnnkit.models.seq2seq_search import DEFAULT_ALPHA


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


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
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


def refuse_flags(args: argparse.Namespace, names: tuple[str, ...], where: str) -> None:
    """One line naming every flag of ``names`` that was given, which only applies ``where``."""
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) is not None]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise RnnkitError(f"{', '.join(given)} {verb} {where}")


def length_penalty(args: argparse.Namespace, beam: int) -> float:
    """The beam search's length-penalty exponent: ``--length-penalty``, refused in one line
    without a beam wider than 1, or GNMT's default."""
    if args.length_penalty is None:
        return DEFAULT_ALPHA
    if beam <= 1:
        raise RnnkitError("--length-penalty ranks beam-search outputs; give --beam K > 1 too")
    return args.length_penalty


def split_seed(args: argparse.Namespace, seed: int) -> int:
    """The seed of the train/test split: ``--split-seed``, or the run's ``--seed``."""
    return seed if getattr(args, "split_seed", None) is None else args.split_seed
