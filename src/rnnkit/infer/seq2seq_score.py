"""Decode a seq2seq model over many sources and score the outputs: WER and PER (a source is
right when its output matches any of its references), and BLEU and chrF (sacrebleu) for text."""

from __future__ import annotations

import sys

from rnnkit.data.datasets import Split
from rnnkit.models.seq2seq_beam import beam_search_many
from rnnkit.models.seq2seq_search import DEFAULT_ALPHA, greedy_decode
from rnnkit.train.seq2seq_metrics import error_rates


def decode_all(model, sources: list[list[int]], max_length: int, *, beam: int = 1,
               batch: int = 256, alpha: float = DEFAULT_ALPHA) -> list:
    """The best hypothesis per source, ``batch`` sources at a time: greedy decoding, or beam
    search (length-normalised with exponent ``alpha``) when ``beam`` > 1."""
    if beam > 1:
        return [hyps[0] for i in range(0, len(sources), batch)
                for hyps in beam_search_many(model, sources[i: i + batch], beam=beam,
                                             max_length=max_length, alpha=alpha)]
    return [h for i in range(0, len(sources), batch)
            for h in greedy_decode(model, sources[i: i + batch], max_length=max_length)]


def score(model, codecs, split: Split, max_length: int, *, batch: int = 256,
          bleu: bool = False, beam: int = 1, alpha: float = DEFAULT_ALPHA) -> dict:
    """Outputs of ``split`` (greedy, or beam search of width ``beam`` and length-penalty
    exponent ``alpha``) scored: WER/PER, and BLEU/chrF when ``bleu``."""
    src_codec, tgt_codec = codecs
    outputs, truncated = [], 0
    sources = [src_codec.encode(s) for s in split.inputs]
    for h in decode_all(model, sources, max_length, beam=beam, batch=batch, alpha=alpha):
        outputs.append(tgt_codec.decode(h.ids))
        truncated += h.truncated
    refs = [[tgt_codec.split(r) for r in rs] for rs in split.targets]
    result = {**error_rates(outputs, refs), "truncated": truncated}
    if bleu:
        try:
            import sacrebleu
        except ImportError:  # an optional metric: announced, the run itself is kept
            print("rnnkit: warning: BLEU and chrF skipped: they need sacrebleu "
                  "(pip install sacrebleu)", file=sys.stderr)
            return result
        hyps = [tgt_codec.join(o) for o in outputs]
        first = [rs[0] for rs in split.targets]
        result["bleu"] = sacrebleu.corpus_bleu(hyps, [first]).score
        result["chrf"] = sacrebleu.corpus_chrf(hyps, [first]).score
    return result


def summary_line(figures: dict, decoding: str) -> str:
    """The test figures of :func:`score` in one line."""
    line = (f"test ({figures['words']:,} sources, {decoding}): WER {100 * figures['wer']:.2f}%, "
            f"PER {100 * figures['per']:.2f}%")
    if "bleu" in figures:
        line += f", BLEU {figures['bleu']:.2f}, chrF {figures['chrf']:.2f}"
    return line
