"""``rnnkit generate RUN``: stream text from a trained language model."""

from __future__ import annotations

import argparse

from rnnkit.cli.args import (escaped_text, nonnegative_float, nonnegative_int, positive_int,
                             unit_interval)
from rnnkit.cli.gen_generate import generate_condgen
from rnnkit.cli.sample import print_sample
from rnnkit.errors import RnnkitError
from rnnkit.train.lm_job import read_run_config


def add_parser(commands) -> None:
    p = commands.add_parser("generate", help="generate text from a trained run",
                            description="Stream text from a trained language model.")
    p.add_argument("run", metavar="RUN", help="run folder written by rnnkit train")
    p.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    p.add_argument("--length", type=nonnegative_int, default=500, metavar="N",
                   help="characters to generate (500)")
    p.add_argument("--temperature", type=nonnegative_float, default=0.8, metavar="T",
                   help="0 = greedy; lower is more conservative (0.8)")
    p.add_argument("--top-k", type=positive_int, metavar="K", help="sample from the K likeliest")
    p.add_argument("--top-p", type=unit_interval, metavar="P", help="nucleus sampling mass")
    p.add_argument("--seed", type=nonnegative_int, metavar="S", help="for a repeatable sample")
    p.add_argument("--condition", metavar="C",
                   help="conditional generator: the condition (e.g. a locale: tr_TR)")
    p.add_argument("--count", type=positive_int, default=1, metavar="N",
                   help="conditional generator: outputs to generate, one per line (1)")
    p.add_argument("--max-length", type=positive_int, metavar="N",
                   help="conditional generator: symbols at most; reaching it is marked "
                   "truncated (32)")
    p.add_argument("--stop", action="append", metavar="TEXT", type=escaped_text,
                   help="end when the generated text contains TEXT, which is not shown; "
                        "\\n is a newline (repeatable)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if read_run_config(args.run)["task"] == "condgen":
        return generate_condgen(args)
    if args.condition is not None:
        raise RnnkitError(f"'{args.run}' is not a conditional generator; --condition applies "
                          "to runs of --task condgen")
    print_sample(args.run, prompt=args.prompt, length=args.length, temperature=args.temperature,
                 top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                 stop=tuple(args.stop or ()))
    return 0
