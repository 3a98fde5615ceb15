"""``rnnkit generate RUN``: stream text from a trained language model."""

from __future__ import annotations

import argparse

from rnnkit.cli.args import nonnegative_float, nonnegative_int, positive_int, unit_interval
from rnnkit.cli.sample import print_sample


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
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print_sample(args.run, prompt=args.prompt, length=args.length, temperature=args.temperature,
                 top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    return 0
