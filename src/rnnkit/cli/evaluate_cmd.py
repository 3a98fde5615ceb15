"""``rnnkit evaluate RUN [--data FILE]``: bits per character on held-out text."""

from __future__ import annotations

import argparse
import sys

from rnnkit.data import eval_windows, read_text
from rnnkit.data.word_tokenizer import words_of
from rnnkit.cli.args import nonnegative_float, refuse_flags
from rnnkit.cli.seq2seq_evaluate import run_seq2seq_evaluation
from rnnkit.cli.task_evaluate import run_task_evaluation
from rnnkit.errors import RnnkitError
from rnnkit.infer import load
from rnnkit.train.lm_job import (describe, lm_loss, read_corpus, read_run_config,
                                 read_test_text, split_text)
from rnnkit.train.loop import evaluate_loss


def add_parser(commands) -> None:
    p = commands.add_parser("evaluate", help="bits per character or perplexity, accuracy and "
                            "macro-F1, or WER/BLEU of a trained run",
                            description="Evaluate a language model (bits per character or word "
                            "perplexity on the run's validation or test split, or on a whole "
                            "--data file), a classifier or tagger (accuracy, macro-F1, per-class "
                            "table and a confusion matrix PNG, on its test split or a --data file "
                            "of the same format), a seq2seq run (WER/PER, BLEU/chrF for text, "
                            "on its test split, greedy or --beam K), or a conditional generator "
                            "(test NLL, new samples, classifier agreement).")
    p.add_argument("run", metavar="RUN", help="run folder written by rnnkit train")
    p.add_argument("--data", metavar="FILE", help="data to score instead (same format)")
    p.add_argument("--beam", type=int, metavar="K",
                   help="seq2seq: score the test part with beam search of width K (greedy: 1)")
    p.add_argument("--length-penalty", type=nonnegative_float, metavar="ALPHA",
                   help="seq2seq beam search: GNMT length-normalisation exponent (0.6; 0 ranks "
                        "by raw log-probability)")
    p.add_argument("--ensemble", nargs="+", metavar="RUN2",
                   help="seq2seq: decode RUN together with these runs (trained on the same data "
                        "and split), averaging their log-probabilities at every step")
    p.add_argument("--split", choices=("validation", "test"), default="validation",
                   help="language model on a built-in text: its validation tail or its test "
                        "part (the unseen play of builtin:shakespeare, PTB's test set)")
    p.add_argument("--seq-len", type=int, default=256, metavar="T", help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def run_condgen_evaluation(args: argparse.Namespace) -> int:
    """A conditional generator's test NLL, new-name share and classifier agreement, again."""
    from rnnkit.cli.gen_train import condgen_summary
    from rnnkit.infer.condgen_eval import evaluate_condgen
    if args.data is not None:
        raise RnnkitError("a conditional generator is scored on its own test part; --data "
                          "applies to language models, classifiers and taggers")
    net, codec = load(args.run)
    print(condgen_summary(evaluate_condgen(args.run, net, codec)))
    return 0


SEQ2SEQ_ONLY = ("beam", "length_penalty", "ensemble")


def run(args: argparse.Namespace) -> int:
    config = read_run_config(args.run)
    if config["task"] == "seq2seq":
        return run_seq2seq_evaluation(args)
    refuse_flags(args, SEQ2SEQ_ONLY, "to seq2seq runs")
    if config["task"] in ("classify", "tag"):
        return run_task_evaluation(args)
    if config["task"] == "condgen":
        return run_condgen_evaluation(args)
    if config["task"] != "lm":
        raise RnnkitError(f"'{args.run}' is a {config['task']!r} run, which rnnkit evaluate "
                          "does not know")
    model, tokenizer = load(args.run)
    level = config["data"].get("level", "char")
    unit = "characters" if level == "char" else "words"
    if args.data is not None:
        text = read_text(args.data)
        where = args.data
    elif args.split == "test":
        text = read_test_text(config["data"]["data"])
        if text is None:
            raise RnnkitError(f"{config['data']['data']} has no test part; --split test applies "
                              "to the built-in texts (give --data FILE to score other text)")
        where = "test split"
    else:
        full, val_start = read_corpus(config["data"]["data"])
        text = split_text(full, val_start, config["data"]["val_fraction"])[1]
        where = "validation split"
    unknown = set(tokenizer.unknown_symbols(text))
    if unknown:
        symbols = text if level == "char" else words_of(text)
        count = sum(s in unknown for s in symbols)
        print(f"rnnkit: warning: {count:,} {unit} ({len(unknown)} distinct) are not in the "
              "vocabulary and count as the unknown symbol", file=sys.stderr)
    ids = tokenizer.encode(text)
    if len(ids) < 2:
        raise RnnkitError(f"'{where}' is too short to evaluate (needs at least 2 {unit})")
    lanes = max(1, min(8, (len(ids) - 1) // args.seq_len))
    result = evaluate_loss(model, lm_loss, eval_windows(ids, lanes, args.seq_len))
    print(f"{where}: {describe(result['loss'], level)} "
          f"({result['tokens']:,} {unit}, loss {result['loss']:.4f} nats)")
    return 0
