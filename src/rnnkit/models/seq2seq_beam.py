"""Beam search over many sources at once: the same search as
:func:`~rnnkit.models.seq2seq_search.beam_search` (its reference, one source at a time), with
the ``beam`` rows of every source in one decoder batch.

N sources x K beams are N*K decoder rows; source i owns rows i*K .. i*K + K - 1. Each step the
decoder runs once for all rows, then every source still searching takes the 2K best
continuations of its own K rows (``total.view(N, K*V).topk(2K)``), exactly as the one-source
search does: a continuation that draws the boundary symbol becomes a finished hypothesis, scored
log P / lp(|Y|) (GNMT, Wu et al. 2016, eq. 14), the others fill the K rows again (rows left
over are dead: score -inf, never chosen again). A source stops when K hypotheses have finished or
no row is left alive; its rows keep running, ignored, until every source of the batch has stopped. After
``max_length`` steps the live rows of a source still searching come back marked truncated.

>>> import torch
>>> from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
>>> from rnnkit.models.seq2seq_search import beam_search
>>> m = Seq2Seq(Seq2SeqConfig(10, 12, hidden_size=8, decoder_size=8)).eval()
>>> many = beam_search_many(m, [[4, 5], [6, 7, 8]], beam=3, max_length=6)
>>> [h.ids for h in many[1]] == [h.ids for h in beam_search(m, [6, 7, 8], beam=3, max_length=6)]
True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnkit.data.symbols import BOUNDARY_ID
from rnnkit.models.seq2seq import Seq2Seq, start_symbols
from rnnkit.models.seq2seq_search import (DEFAULT_ALPHA, Hypothesis, check_search,
                                          length_penalty, pad_sources, select_rows)


@torch.inference_mode()
def beam_search_many(model: Seq2Seq, sources: list[list[int]], *, beam: int = 5,
                     max_length: int = 50, alpha: float = DEFAULT_ALPHA
                     ) -> list[list[Hypothesis]]:
    """The ``beam`` best outputs of each source, best first (finished before truncated)."""
    check_search(beam, alpha)
    model.eval()
    N, K = len(sources), beam
    enc = model.encode(pad_sources(sources)).repeat(K)   # rows i*K + k
    y, state = start_symbols(N * K), enc.state
    scores = torch.full((N, K), -math.inf)
    scores[:, 0] = 0.0                                   # each source starts as one empty beam
    seqs: list[list[int]] = [[] for _ in range(N * K)]
    atts: list[list[Tensor]] = [[] for _ in range(N * K)]
    finished: list[list[Hypothesis]] = [[] for _ in range(N)]
    searching = [True] * N
    for _ in range(max_length):
        logits, state, weights = model.step(y, state, enc)                   # (N*K, V), (N*K, S)
        V = logits.shape[1]
        total = scores.view(N * K, 1) + logits.log_softmax(-1)              # (N*K, V)
        best, flat = total.view(N, K * V).topk(min(2 * K, K * V), dim=1)    # (N, 2K)
        rows, ids = list(range(N * K)), [BOUNDARY_ID] * (N * K)     # dead rows stay put
        new_scores = torch.full((N, K), -math.inf)
        best_rows, flat_rows = best.tolist(), flat.tolist()
        for i in range(N):
            if not searching[i]:
                continue
            kept = 0
            for s, f in zip(best_rows[i], flat_rows[i]):
                if s == -math.inf:
                    break
                local, sym = divmod(f, V)
                row = i * K + local
                if sym == BOUNDARY_ID:
                    n = len(seqs[row])
                    finished[i].append(Hypothesis(
                        seqs[row], s / length_penalty(n + 1, alpha),
                        _attention(atts[row] + [weights[row]], len(sources[i])), False))
                else:
                    rows[i * K + kept], ids[i * K + kept] = row, sym
                    new_scores[i, kept] = s
                    kept += 1
                if kept == K:
                    break
            if len(finished[i]) >= K or kept == 0:
                searching[i] = False
        if not any(searching):
            break
        seqs = [seqs[r] + [sym] for r, sym in zip(rows, ids)]
        atts = [atts[r] + [weights[r]] for r in rows]
        scores = new_scores
        state = select_rows(state, torch.tensor(rows))
        y = torch.tensor(ids)
    else:
        for i, k in ((i, k) for i in range(N) if searching[i] for k in range(K)):
            row = i * K + k
            if scores[i, k] > -math.inf:
                finished[i].append(Hypothesis(
                    seqs[row], float(scores[i, k]) / length_penalty(len(seqs[row]), alpha),
                    _attention(atts[row], len(sources[i])), True))
    for hyps in finished:
        hyps.sort(key=lambda h: (h.truncated, -h.score))
    return [hyps[:K] for hyps in finished]


def _attention(steps: list[Tensor], length: int) -> Tensor:
    """(len(steps), length): the weights of each emitted step, source padding cut off."""
    return torch.stack(steps)[:, :length]
