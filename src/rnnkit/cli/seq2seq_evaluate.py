"""``rnnkit evaluate RUN [--beam K]`` for a seq2seq run: its test part scored again, greedy or
with beam search, by the figures the training run printed (WER/PER, BLEU/chrF for text)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.infer import load
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
    config = read_run_config(args.run)
    model, codecs = load(args.run)
    data = Seq2SeqDataConfig(**config["data"])
    test = prepare(data)[3]
    start = time.perf_counter()
    figures = score(model, codecs, test, data.max_length, beam=beam,
                    bleu=TARGET_LEVEL.get(data.data) is None)
    figures["seconds"] = time.perf_counter() - start
    decoding = "greedy" if beam == 1 else f"beam {beam}"
    write_json(Path(args.run) / f"evaluation_{decoding.replace(' ', '')}.json",
               {"split": config.get("split"), "decoding": decoding, "test": figures})
    print(summary_line(figures, decoding) + f"; {figures['truncated']} truncated")
    return 0
