"""``rnnkit evaluate RUN [--beam K] [--ensemble RUN2 ...]`` for a seq2seq run: its test part
scored again, greedy or with beam search, by the figures the training run printed (WER/PER,
BLEU/chrF for text), by the run alone or as an ensemble with other runs on the same data."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnnkit.cli.args import length_penalty
from rnnkit.errors import RnnkitError
from rnnkit.infer import load
from rnnkit.models.seq2seq_ensemble import ensemble_of
from rnnkit.train.lm_job import read_run_config
from rnnkit.train.seq2seq_job import (TARGET_LEVEL, Seq2SeqDataConfig, prepare, score,
                                     summary_line)
from rnnkit.train.resumable import write_json


def run_seq2seq_evaluation(args: argparse.Namespace) -> int:
    if args.data is not None:
        raise RnnkitError("a seq2seq run is scored on its own test part; --data applies to "
                          "language models, classifiers and taggers (use rnnkit predict for "
                          "other sources)")
    beam = 1 if args.beam is None else args.beam
    if beam < 1:
        raise RnnkitError(f"beam size must be a positive integer, got {beam}")
    alpha = length_penalty(args, beam)
    config = read_run_config(args.run)
    model, codecs = load(args.run)
    members = [model] + [ensemble_member(other, config, codecs) for other in args.ensemble or []]
    model = ensemble_of(members)
    data = Seq2SeqDataConfig(**config["data"])
    test = prepare(data)[3]
    start = time.perf_counter()
    figures = score(model, codecs, test, data.max_length, beam=beam, alpha=alpha,
                    bleu=TARGET_LEVEL.get(data.data) is None)
    figures["seconds"] = time.perf_counter() - start
    decoding = "greedy" if beam == 1 else f"beam {beam}"
    name = f"evaluation_{decoding.replace(' ', '')}"
    if args.length_penalty is not None:
        decoding += f", length penalty {alpha:g}"
        name += f"_alpha{alpha:g}"
    record = {"split": config.get("split"), "decoding": decoding, "test": figures}
    if beam > 1:
        record["length_penalty"] = alpha
    if len(members) > 1:
        decoding += f", ensemble of {len(members)}"
        name += f"_ensemble{len(members)}"
        record["ensemble"] = [str(args.run)] + [str(r) for r in args.ensemble]
    write_json(Path(args.run) / f"{name}.json", record)
    print(summary_line(figures, decoding) + f"; {figures['truncated']} truncated")
    return 0


def ensemble_member(run: str, config: dict, codecs):
    """Another run's model, refused in one line unless it is a seq2seq run on the same data,
    split and symbols as the first."""
    other = read_run_config(run)
    if other.get("task") != "seq2seq":
        raise RnnkitError(f"'{run}' is not a seq2seq run; an ensemble needs seq2seq runs")
    if other["data"]["data"] != config["data"]["data"] or other.get("split") != config.get("split"):
        raise RnnkitError(f"'{run}' was trained on other data or another split; an ensemble "
                          "needs runs on the same data and split")
    model, other_codecs = load(run)
    if [c.to_dict() for c in other_codecs] != [c.to_dict() for c in codecs]:
        raise RnnkitError(f"'{run}' has other symbols; an ensemble needs the same vocabularies")
    return model
