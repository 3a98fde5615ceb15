"""``rnnkit experiment NAME``: measure one of the explainer's claims on this machine."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.experiments import EXPERIMENTS, run_experiment
from rnnkit.experiments.publish import publish


def add_parser(commands) -> None:
    described = "; ".join(f"{name}: {about}" for name, (_, about) in EXPERIMENTS.items())
    p = commands.add_parser("experiment", help="run an experiment (memory, vanishing, ...)",
                            description=f"Train small models and write a report with a table "
                            f"and plots. Experiments: {described}.")
    p.add_argument("name", metavar="NAME", help=f"one of {', '.join(EXPERIMENTS)}")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/experiments/NAME)")
    p.add_argument("--budget", default="small", metavar="B",
                   help="small (minutes), full, or a number of updates per model (small)")
    p.add_argument("--docs", metavar="DIR", help="also merge the result into DIR/experiments.md,"
                   " DIR/experiments.json and DIR/img/")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.name not in EXPERIMENTS:
        raise RnnkitError(f"unknown experiment {args.name!r}; the experiments are "
                          f"{', '.join(EXPERIMENTS)}")
    out = Path(args.out or f"runs/experiments/{args.name}")
    if out.exists() and not out.is_dir():
        raise RnnkitError(f"--out '{out}' is a file, not a folder")
    command = f"rnnkit experiment {args.name} --budget {shlex.quote(args.budget)}"
    result = run_experiment(args.name, args.budget, out, command=command)
    print(result.markdown())
    print(f"report: {out / 'report.md'}", file=sys.stderr)
    if args.docs:
        publish(result, out, Path(args.docs))
        print(f"merged into {Path(args.docs) / 'experiments.md'}", file=sys.stderr)
    return 0
