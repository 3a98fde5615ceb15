"""Seq2seq ensembles: the step's distribution against the members' written out by hand, greedy
and beam search through the ensemble, a one-member ensemble equal to its model, and refusals."""

import pytest
import torch

from rnnkit.data.symbols import BOUNDARY_ID
from rnnkit.errors import RnnkitError
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.seq2seq_ensemble import Seq2SeqEnsemble, ensemble_of
from rnnkit.models.seq2seq_search import beam_search, greedy_decode, select_rows


def member(seed: int, decoder: str = "lstm", **kw) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(Seq2SeqConfig(10, 9, decoder_cell=decoder, hidden_size=8, decoder_size=12,
                                 **kw)).eval()


SOURCES = [[4, 5, 6, 7], [8, 3], [5, 5, 9]]


@pytest.mark.parametrize("weights", [None, [3.0, 1.0]])
def test_step_is_the_weighted_geometric_mean_of_the_members(weights):
    a, b = member(0), member(1, decoder="gru", attention="additive")
    ens = Seq2SeqEnsemble([a, b], weights)
    wa, wb = (0.5, 0.5) if weights is None else (0.75, 0.25)
    src = torch.tensor([[4, 5, 6, 7], [8, 3, 0, 0]])
    y = torch.tensor([BOUNDARY_ID, BOUNDARY_ID])
    enc = ens.encode(src)
    # the members written out by hand, over two steps (their states carried)
    ea, eb = a.encode(src), b.encode(src)
    sa, sb, s = ea.state, eb.state, enc.state
    for step_y in (y, torch.tensor([4, 6])):
        la, sa, att_a = a.step(step_y, sa, ea)
        lb, sb, _ = b.step(step_y, sb, eb)
        mixed = wa * la.log_softmax(-1) + wb * lb.log_softmax(-1)
        expected = mixed - mixed.logsumexp(-1, keepdim=True)
        logp, s, att = ens.step(step_y, s, enc)
        torch.testing.assert_close(logp, expected)
        torch.testing.assert_close(att, att_a)                     # the first member's
        assert torch.allclose(logp.exp().sum(-1), torch.ones(2))
    # a real mixture differs from either member alone
    assert not torch.allclose(logp, la.log_softmax(-1), atol=1e-3)


def test_one_member_decodes_like_its_model():
    m = member(2)
    ens = Seq2SeqEnsemble([m])
    for h, g in zip(greedy_decode(ens, SOURCES, max_length=6),
                    greedy_decode(m, SOURCES, max_length=6)):
        assert h.ids == g.ids and h.score == pytest.approx(g.score, abs=1e-5)
    for s in SOURCES:
        assert [h.ids for h in beam_search(ens, s, beam=3, max_length=6)] == \
            [h.ids for h in beam_search(m, s, beam=3, max_length=6)]
    assert ensemble_of([m]) is m


def test_greedy_and_beam_run_through_an_ensemble_of_mixed_decoders():
    ens = ensemble_of([member(0), member(1, decoder="gru"), member(3, decoder_layers=2)])
    greedy = greedy_decode(ens, SOURCES, max_length=5)
    assert len(greedy) == 3 and all(len(h.ids) <= 5 for h in greedy)
    beams = beam_search(ens, SOURCES[0], beam=4, max_length=5)
    assert 1 <= len(beams) <= 4
    # beam 1 is greedy: the same ids
    one = beam_search(ens, SOURCES[1], beam=1, max_length=5, alpha=0.0)[0]
    g = greedy_decode(ens, [SOURCES[1]], max_length=5)[0]
    assert one.ids == g.ids


def test_select_rows_reaches_nested_states():
    h, c, g = torch.randn(2, 5, 3), torch.randn(2, 5, 3), torch.randn(1, 5, 4)
    rows = torch.tensor([4, 0, 0])
    picked = select_rows(((h, c), g), rows)
    assert torch.equal(picked[0][1], c[:, rows]) and torch.equal(picked[1], g[:, rows])


def test_bad_ensembles_are_refused():
    with pytest.raises(RnnkitError, match="at least one"):
        Seq2SeqEnsemble([])
    torch.manual_seed(0)
    other = Seq2Seq(Seq2SeqConfig(10, 11)).eval()
    with pytest.raises(RnnkitError, match="different vocabularies"):
        Seq2SeqEnsemble([member(0), other])
    with pytest.raises(RnnkitError, match="positive weight"):
        Seq2SeqEnsemble([member(0), member(1)], [1.0, 0.0])
    with pytest.raises(RnnkitError, match="recurrent seq2seq"):
        Seq2SeqEnsemble([member(0), torch.nn.Linear(2, 2)])
