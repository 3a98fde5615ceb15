"""``rnnkit predict RUN TEXT``: the label and probabilities of a classifier, or the tags of a
tagger, for texts given as arguments or one per line on stdin (``-``). For a time-series
classifier each argument is a ``.ts`` file and every series in it gets a line."""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli.args import nonnegative_float, refuse_flags
from rnnkit.cli.gen_generate import predict_seq2seq
from rnnkit.data.codec import SeriesCodec, TagCodec
from rnnkit.data.datasets import read_ts
from rnnkit.errors import RnnkitError
from rnnkit.infer import classify, load, tag
from rnnkit.train.lm_job import read_run_config


def add_parser(commands) -> None:
    p = commands.add_parser("predict", help="label texts (or series) with a trained classifier "
                            "or tag sentences with a tagger",
                            description="Predict with a classifier or tagger run. Give texts as "
                            "arguments, or - to read one per line from stdin.")
    p.add_argument("run", metavar="RUN", help="run folder written by rnnkit train --task ...")
    p.add_argument("texts", metavar="TEXT", nargs="+",
                   help="text to label or sentence to tag; '-' reads lines from stdin; for a "
                   "time-series run, a .ts file")
    p.add_argument("--top", type=int, default=0, metavar="N",
                   help="show only the N most probable labels (default: all)")
    p.add_argument("--beam", type=int, metavar="K",
                   help="seq2seq: beam search with K beams and GNMT length normalisation "
                   "(default: greedy)")
    p.add_argument("--length-penalty", type=nonnegative_float, metavar="ALPHA",
                   help="seq2seq beam search: GNMT length-normalisation exponent (0.6; 0 ranks "
                        "by raw log-probability)")
    p.add_argument("--nbest", type=int, default=1, metavar="N",
                   help="seq2seq: print the N best beam outputs (1)")
    p.add_argument("--max-length", type=int, metavar="N",
                   help="seq2seq: output symbols at most; reaching it is marked truncated (50)")
    p.add_argument("--attention-png", metavar="FILE",
                   help="seq2seq: save the attention map of the best output as PNG")
    p.set_defaults(handler=run)


def _texts(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(where, text) pairs: arguments, or stdin lines for '-'."""
    out = []
    for i, text in enumerate(args.texts, start=1):
        if text == "-":
            out += [(f"stdin line {n}", line.rstrip("\n"))
                    for n, line in enumerate(sys.stdin, start=1)]
        else:
            out.append((f"argument {i}", text))
    for where, text in out:
        if not text.strip():
            raise RnnkitError(f"the text of {where} is empty: nothing to predict")
    if not out:
        raise RnnkitError("no text to predict (stdin was empty)")
    return out


SEQ2SEQ_ONLY = ("beam", "length_penalty", "max_length", "attention_png")


def run(args: argparse.Namespace) -> int:
    config = read_run_config(args.run)
    if config["task"] == "seq2seq":
        return predict_seq2seq(args, _texts(args))
    if config["task"] not in ("classify", "tag"):
        raise RnnkitError(f"'{args.run}' is a {config['task']!r} run; predict needs a run of "
                          "--task classify or tag (use rnnkit generate for a language model)")
    refuse_flags(args, SEQ2SEQ_ONLY, "to seq2seq runs")
    model, codec = load(args.run)
    if isinstance(codec, SeriesCodec):
        examples = [x for path in args.texts for x in read_ts(path).inputs]
    else:
        examples = [text for _, text in _texts(args)]
    if isinstance(codec, TagCodec):
        sentences = [text.split() for text in examples]
        for words, tags in zip(sentences, tag(model, codec, sentences)):
            print(" ".join(f"{w}/{t}" for w, t in zip(words, tags)))
        return 0
    for p in classify(model, codec, examples):
        ranked = sorted(p.probabilities.items(), key=lambda kv: -kv[1])
        shown = ranked[: args.top] if args.top > 0 else ranked
        print(p.label + "\t" + " ".join(f"{k}={v:.3f}" for k, v in shown))
    return 0
