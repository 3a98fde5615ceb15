"""Batched beam search (many sources at once) against the one-source reference: the same
hypotheses, scores, truncation marks and attention maps, for recurrent, transformer and ensemble
models, with and without the length penalty, including sources of different lengths."""

import pytest
import torch

from rnnkit.data.symbols import BOUNDARY_ID
from rnnkit.errors import RnnkitError
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.seq2seq_beam import beam_search_many
from rnnkit.models.seq2seq_ensemble import Seq2SeqEnsemble
from rnnkit.models.seq2seq_search import beam_search
from rnnkit.models.transformer_seq2seq import TransformerSeq2Seq, TransformerSeq2SeqConfig


def _likely_end(model, boost):
    """Random models rarely draw the end symbol; raise its bias so some hypotheses finish."""
    with torch.no_grad():
        model.head.bias[BOUNDARY_ID] += boost
    return model.double().eval()


def _recurrent(seed, boost, **kw):
    torch.manual_seed(seed)
    return _likely_end(Seq2Seq(Seq2SeqConfig(11, 9, hidden_size=8, decoder_size=12, **kw)),
                       boost)


def _transformer(seed, boost):
    torch.manual_seed(seed)
    return _likely_end(TransformerSeq2Seq(TransformerSeq2SeqConfig(
        11, 9, embed_size=8, hidden_size=16, num_heads=2, encoder_layers=1, decoder_layers=1)),
        boost)


MODELS = {
    "lstm-multiplicative": lambda b: _recurrent(0, b),
    "gru-additive": lambda b: _recurrent(1, b, decoder_cell="gru", attention="additive"),
    "two-layer-decoder": lambda b: _recurrent(2, b, decoder_layers=2, cell="gru"),
    "transformer": lambda b: _transformer(3, b),
    "ensemble": lambda b: Seq2SeqEnsemble([_recurrent(4, b), _recurrent(5, b, decoder_cell="gru")]),
}


def _sources(seed, n=7):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(3, 11, (int(torch.randint(1, 9, (1,), generator=g)),),
                          generator=g).tolist() for _ in range(n)]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("beam,alpha,max_length,boost", [
    (1, 0.6, 9, 1.5), (3, 0.0, 9, 1.5), (4, 0.6, 3, 0.0), (4, 1.5, 12, 1.5)])
def test_many_sources_decode_as_each_alone(name, beam, alpha, max_length, boost):
    model = MODELS[name](boost)
    sources = _sources(beam * 10 + max_length)
    many = beam_search_many(model, sources, beam=beam, max_length=max_length, alpha=alpha)
    assert len(many) == len(sources)
    kinds = set()
    for source, got in zip(sources, many):
        want = beam_search(model, source, beam=beam, max_length=max_length, alpha=alpha)
        assert [h.ids for h in got] == [h.ids for h in want]
        assert [h.truncated for h in got] == [h.truncated for h in want]
        for g, w in zip(got, want):
            assert g.score == pytest.approx(w.score, abs=1e-6)
            assert g.attention.shape == w.attention.shape == (g.attention.shape[0], len(source))
            torch.testing.assert_close(g.attention, w.attention)
            kinds.add(g.truncated)
    if boost == 0.0:
        assert True in kinds                 # the short limit truncates some outputs
    if max_length == 12:
        assert False in kinds                # and a long one lets some finish


def test_bad_arguments_are_refused():
    model = MODELS["lstm-multiplicative"](0.0)
    with pytest.raises(RnnkitError, match="beam size"):
        beam_search_many(model, [[4, 5]], beam=0)
    with pytest.raises(RnnkitError, match="length-penalty exponent"):
        beam_search_many(model, [[4, 5]], alpha=float("nan"))
    with pytest.raises(RnnkitError, match="empty"):
        beam_search_many(model, [[4, 5], []])
