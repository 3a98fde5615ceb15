"""Using a trained seq2seq run: decode sources (greedy or beam search, n-best, attention maps)
and score its test part again, alone or as an ensemble with other runs on the same data."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.infer.seq2seq_score import score, summary_line
from rnnkit.models.seq2seq_ensemble import ensemble_of
from rnnkit.models.seq2seq_search import DEFAULT_ALPHA, beam_search, greedy_decode
from rnnkit.tasks.flags import nonnegative_float, positive_generation_length, positive_int
from rnnkit.train.run_folder import read_run_config, write_json


def add_beam_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--beam", type=int, metavar="K",
                   help="beam search with K beams and GNMT length normalisation (greedy: 1)")
    p.add_argument("--length-penalty", type=nonnegative_float, metavar="ALPHA",
                   help=f"beam search: GNMT length-normalisation exponent ({DEFAULT_ALPHA}; 0 "
                        "ranks by raw log-probability)")


def search_settings(beam: int | None, alpha: float | None) -> tuple[int, float]:
    """(beam width, length-penalty exponent), refused in one line when they do not fit."""
    beam = 1 if beam is None else beam
    if beam < 1:
        raise RnnkitError(f"beam size must be a positive integer, got {beam}")
    if alpha is None:
        return beam, DEFAULT_ALPHA
    if beam <= 1:
        raise RnnkitError("--length-penalty ranks beam-search outputs; give --beam K > 1 too")
    return beam, alpha


def add_predict_flags(p: argparse.ArgumentParser) -> None:
    add_beam_flags(p)
    p.add_argument("--nbest", type=positive_int, metavar="N",
                   help="print the N best beam outputs (1)")
    p.add_argument("--max-length", type=positive_generation_length, metavar="N",
                   help="output symbols at most; reaching it is marked truncated (50)")
    p.add_argument("--attention-png", metavar="FILE",
                   help="save the attention map of the best output as PNG")


def predict(model, codecs, inputs: list[str], *, beam: int | None = None,
            length_penalty: float | None = None, nbest: int = 1, max_length: int = 50,
            attention: bool = False) -> list[dict]:
    """Decode each source: ``{"source", "outputs": [{"text", "score", "truncated"}, ...]}``
    (the ``nbest`` best, best first), with ``"attention"`` (the best output's weights, target
    steps x source symbols, and both symbol lists) when asked. Symbols never seen in training
    are read as the unknown symbol, announced on stderr."""
    src, tgt = codecs
    beam, alpha = search_settings(beam, length_penalty)
    outputs = []
    for text in inputs:
        if not text.strip():
            raise RnnkitError("a source to decode is empty")
        unknown = src.unknown(text)
        if unknown:
            print(f"rnnkit: warning: {text!r} has symbols never seen in training, read as the "
                  f"unknown symbol: {' '.join(repr(u) for u in unknown)}", file=sys.stderr)
        ids = src.encode(text)
        hyps = greedy_decode(model, [ids], max_length=max_length) if beam == 1 else \
            beam_search(model, ids, beam=beam, max_length=max_length, alpha=alpha)
        out = {"source": text, "outputs": [{"text": tgt.join(tgt.decode(h.ids)),
                                            "score": h.score, "truncated": bool(h.truncated)}
                                           for h in hyps[:nbest]]}
        if attention:
            weights = hyps[0].attention
            out["attention"] = {"weights": None if weights is None else weights.tolist(),
                                "source": src.split(text),
                                "target": tgt.decode(hyps[0].ids) + ["<s>"]}
        outputs.append(out)
    return outputs


def show(output: dict) -> str:
    return "\n".join(f"{output['source']}\t{o['text']}\t{o['score']:.3f}"
                     + ("\t[truncated at the maximum length]" if o["truncated"] else "")
                     for o in output["outputs"])


def add_evaluate_flags(p: argparse.ArgumentParser) -> None:
    add_beam_flags(p)
    p.add_argument("--ensemble", nargs="+", metavar="RUN2",
                   help="decode RUN together with these runs (trained on the same data and "
                        "split), averaging their log-probabilities at every step")


def ensemble_member(run: str, config: dict, codecs):
    """Another run's model, refused in one line unless it is a seq2seq run on the same data,
    split and symbols as the first."""
    from rnnkit.tasks.loading import load
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


def evaluate(run_dir: Path, config: dict, options: dict, prepare) -> int:
    """The test part scored again (greedy, beam, ensemble); writes evaluation_<how>.json."""
    from rnnkit.tasks.loading import load
    from rnnkit.tasks.seq2seq import TARGET_LEVEL, Seq2SeqDataConfig
    beam, alpha = search_settings(options.get("beam"), options.get("length_penalty"))
    model, codecs = load(run_dir)
    others = options.get("ensemble") or []
    members = [model] + [ensemble_member(other, config, codecs) for other in others]
    data = Seq2SeqDataConfig(**config["data"])
    test = prepare(data).test
    start = time.perf_counter()
    figures = score(ensemble_of(members), codecs, test, data.max_length, beam=beam, alpha=alpha,
                    bleu=TARGET_LEVEL.get(data.data) is None)
    figures["seconds"] = time.perf_counter() - start
    decoding = "greedy" if beam == 1 else f"beam {beam}"
    name = f"evaluation_{decoding.replace(' ', '')}"
    if options.get("length_penalty") is not None:
        decoding += f", length penalty {alpha:g}"
        name += f"_alpha{alpha:g}"
    record = {"split": config.get("split"), "decoding": decoding, "test": figures}
    if beam > 1:
        record["length_penalty"] = alpha
    if len(members) > 1:
        decoding += f", ensemble of {len(members)}"
        name += f"_ensemble{len(members)}"
        record["ensemble"] = [str(run_dir)] + [str(r) for r in others]
    write_json(Path(run_dir) / f"{name}.json", record)
    print(summary_line(figures, decoding) + f"; {figures['truncated']} truncated")
    return 0
