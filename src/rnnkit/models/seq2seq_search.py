"""Decoding a :class:`~rnnkit.models.seq2seq.Seq2Seq` (or a
:class:`~rnnkit.models.transformer_seq2seq.TransformerSeq2Seq`, which has the same ``encode``
and ``step``; its state is a key/value cache with the batch on dim 1, or a
:class:`~rnnkit.models.seq2seq_ensemble.Seq2SeqEnsemble`): greedy (batched) and beam search.

Greedy takes the most likely symbol at each step, for a whole batch of sources at once. Beam
search keeps the ``beam`` best partial outputs of one source; a finished hypothesis (it drew the
boundary symbol) is ranked by its log-probability divided by the length penalty of Wu et al.
2016 ("Google's Neural Machine Translation System", eq. 14)::

    score(Y) = log P(Y | X) / lp(Y),     lp(Y) = (5 + |Y|)^alpha / (5 + 1)^alpha

``alpha = 0`` is the raw log-probability (which favours short outputs); GNMT used 0.6-0.7.
Search stops when every beam slot holds a finished hypothesis or after ``max_length`` steps;
an output that reached ``max_length`` without ending is returned marked ``truncated``.

>>> import torch
>>> from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
>>> m = Seq2Seq(Seq2SeqConfig(10, 12, hidden_size=8, decoder_size=8)).eval()
>>> [h.ids == g.ids for h, g in zip(beam_search(m, [4, 5], beam=1, max_length=6)[:1],
...                                 greedy_decode(m, [[4, 5]], max_length=6))]
[True]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.data.symbols import BOUNDARY_ID
from rnnkit.errors import RnnkitError
from rnnkit.models.seq2seq import Seq2Seq, start_symbols


@dataclass(frozen=True)
class Hypothesis:
    """One decoded output."""

    ids: list[int]          # target ids, without the final boundary symbol
    score: float            # log P (greedy) or log P / lp (beam)
    attention: Tensor       # (len(ids) + 1 or len(ids), S) weights of each emitted step
    truncated: bool         # reached max_length without the boundary symbol


DEFAULT_ALPHA = 0.6  # GNMT's length-penalty exponent, the default of every beam search here


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's lp(Y) = ((5 + |Y|) / 6) ** alpha."""
    return ((5 + length) / 6) ** alpha


def pad_sources(sources: list[list[int]]) -> Tensor:
    """Source id lists as one zero-padded batch (B, S); an empty source is refused."""
    if any(len(s) == 0 for s in sources):
        raise RnnkitError("a source is empty: nothing to decode")
    return torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in sources],
                                           batch_first=True)                 # (B, S)


def check_search(beam: int, alpha: float) -> None:
    """Refuse, in one line, a beam width below 1 or a length-penalty exponent that is negative or
    not finite."""
    if not isinstance(beam, int) or beam < 1:
        raise RnnkitError(f"beam size must be a positive integer, got {beam}")
    if not 0 <= alpha < math.inf:
        raise RnnkitError(f"the length-penalty exponent must be a finite number >= 0, got {alpha}")


def select_rows(state, rows: Tensor):
    """A decoder state (a tensor (layers, B, H), or nested tuples of them: an LSTM's (h, c), an
    ensemble's members) with its batch rows picked by ``rows``."""
    if isinstance(state, tuple):
        return tuple(select_rows(s, rows) for s in state)
    return state[:, rows]


@torch.inference_mode()
def greedy_decode(model: Seq2Seq, sources: list[list[int]], *,
                  max_length: int = 50) -> list[Hypothesis]:
    """The most likely symbol at every step, for each source id list."""
    model.eval()
    enc = model.encode(pad_sources(sources))
    B = len(sources)
    y, state = start_symbols(B), enc.state
    out = [[] for _ in range(B)]
    att = [[] for _ in range(B)]
    logp = [0.0] * B
    done = [False] * B
    for _ in range(max_length):
        logits, state, weights = model.step(y, state, enc)                   # (B, V), (B, S)
        lp = logits.log_softmax(-1)
        y = lp.argmax(-1)                                                    # (B,)
        for i in range(B):
            if done[i]:
                continue
            att[i].append(weights[i])
            logp[i] += float(lp[i, y[i]])
            if int(y[i]) == BOUNDARY_ID:
                done[i] = True
            else:
                out[i].append(int(y[i]))
        if all(done):
            break
    return [Hypothesis(out[i], logp[i], torch.stack(att[i])[:, : len(sources[i])],
                       not done[i]) for i in range(B)]


@torch.inference_mode()
def beam_search(model: Seq2Seq, source: list[int], *, beam: int = 5, max_length: int = 50,
                alpha: float = DEFAULT_ALPHA) -> list[Hypothesis]:
    """The ``beam`` best outputs for one source, best first (finished ones before truncated)."""
    check_search(beam, alpha)
    model.eval()
    enc = model.encode(pad_sources([source])).repeat(beam)
    y, state = start_symbols(beam), enc.state
    scores = torch.full((beam,), -math.inf)
    scores[0] = 0.0                                      # all beams start as the same empty one
    seqs: list[list[int]] = [[] for _ in range(beam)]
    atts: list[list[Tensor]] = [[] for _ in range(beam)]
    finished: list[Hypothesis] = []
    for _ in range(max_length):
        logits, state, weights = model.step(y, state, enc)                   # (K, V), (K, S)
        total = scores[:, None] + logits.log_softmax(-1)                     # (K, V)
        V = total.shape[1]
        best, flat = total.flatten().topk(2 * beam)                          # room for ends
        keep_rows, keep_ids, keep_scores = [], [], []
        for s, f in zip(best.tolist(), flat.tolist()):
            if s == -math.inf:
                break
            row, sym = divmod(f, V)
            if sym == BOUNDARY_ID:
                n = len(seqs[row])
                finished.append(Hypothesis(seqs[row], s / length_penalty(n + 1, alpha),
                                           torch.stack(atts[row] + [weights[row]]), False))
            else:
                keep_rows.append(row)
                keep_ids.append(sym)
                keep_scores.append(s)
            if len(keep_rows) == beam:
                break
        if len(finished) >= beam or not keep_rows:
            break
        rows = torch.tensor(keep_rows)
        seqs = [seqs[r] + [i] for r, i in zip(keep_rows, keep_ids)]
        atts = [atts[r] + [weights[r]] for r in keep_rows]
        scores = torch.tensor(keep_scores)
        if len(rows) < beam:                               # fewer live beams: pad with dead ones
            pad = beam - len(rows)
            rows = torch.cat([rows, rows[:1].repeat(pad)])
            scores = torch.cat([scores, torch.full((pad,), -math.inf)])
            seqs += [seqs[0]] * pad
            atts += [atts[0]] * pad
        state = select_rows(state, rows)
        y = torch.tensor(keep_ids + keep_ids[:1] * (beam - len(keep_ids)))
    else:
        for i in range(beam):
            if scores[i] > -math.inf:
                finished.append(Hypothesis(seqs[i], float(scores[i]) /
                                           length_penalty(len(seqs[i]), alpha),
                                           torch.stack(atts[i]), True))
    finished.sort(key=lambda h: (h.truncated, -h.score))
    return finished[:beam]
