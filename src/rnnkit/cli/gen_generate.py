"""``rnnkit generate RUN --condition C`` and ``rnnkit predict RUN "word" --beam K`` for the
generators: streaming, generation controls, and one-line refusals of bad input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli.args import length_penalty
from rnnkit.errors import RnnkitError
from rnnkit.infer import SamplingConfig, load
from rnnkit.infer.attention_plot import plot_attention
from rnnkit.infer.conditional import stream_conditional
from rnnkit.infer.stopping import GenerationLimits
from rnnkit.models.seq2seq_search import beam_search, greedy_decode


def generate_condgen(args: argparse.Namespace) -> int:
    """Stream ``--count`` outputs for ``--condition``, one per line; truncation is marked."""
    if not args.condition:
        model, (_, conditions) = load(args.run)
        raise RnnkitError(f"this run is a conditional generator: give --condition, one of "
                          f"{', '.join(conditions)}")
    model, codec = load(args.run)
    limits = GenerationLimits(args.max_length or 32, tuple(args.stop or ()))
    for i in range(args.count):
        seed = None if args.seed is None else args.seed + i
        sampling = SamplingConfig(args.temperature, args.top_k, args.top_p, seed)
        result = stream_conditional(model, codec, args.condition,
                                    lambda piece: (sys.stdout.write(piece), sys.stdout.flush()),
                                    sampling=sampling, limits=limits)
        sys.stdout.write(" [truncated at the maximum length]\n" if result.truncated else "\n")
    return 0


def predict_seq2seq(args: argparse.Namespace, texts: list[tuple[str, str]]) -> int:
    """Decode each text (greedy, or beam search with ``--beam K``); announce unknown symbols."""
    model, (src, tgt) = load(args.run)
    beam = args.beam
    if beam is not None and beam < 1:
        raise RnnkitError(f"beam size must be at least 1, got {beam}")
    alpha = length_penalty(args, beam or 1)
    max_length = args.max_length or 50
    for n, (where, text) in enumerate(texts):
        unknown = src.unknown(text)
        if unknown:
            print(f"rnnkit: warning: {where} has symbols never seen in training, read as the "
                  f"unknown symbol: {' '.join(repr(u) for u in unknown)}", file=sys.stderr)
        ids = src.encode(text)
        if beam is None or beam == 1:
            hyps = greedy_decode(model, [ids], max_length=max_length)
        else:
            hyps = beam_search(model, ids, beam=beam, max_length=max_length, alpha=alpha)
        for h in hyps[: args.nbest]:
            mark = "\t[truncated at the maximum length]" if h.truncated else ""
            print(f"{text}\t{tgt.join(tgt.decode(h.ids))}\t{h.score:.3f}{mark}")
        if args.attention_png:
            path = Path(args.attention_png)
            if len(texts) > 1:
                path = path.with_name(f"{path.stem}-{n + 1}{path.suffix}")
            plot_attention(hyps[0].attention, src.split(text),
                           tgt.decode(hyps[0].ids) + ["<s>"], path,
                           title=f"attention: {text}")
    return 0
