"""The transformer encoder-decoder: shapes, step-by-step decoding against teacher forcing,
search through the recurrent model's interface, and learning to reverse."""

import pytest
import torch

from rnnkit.data.padded import IGNORE
from rnnkit.data.symbols import BOUNDARY_ID
from rnnkit.errors import RnnkitError
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.seq2seq_search import beam_search, greedy_decode
from rnnkit.models.transformer_seq2seq import (TransformerSeq2Seq, TransformerSeq2SeqConfig,
                                               build_seq2seq)


def _tiny(**kw):
    return TransformerSeq2Seq(TransformerSeq2SeqConfig(10, 11, embed_size=8, hidden_size=16,
                                                       num_heads=4, **kw))


def _packed(B=3, L=6, V=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(3, V, (B, L, 2), generator=g)
    x[:, 0, 1] = BOUNDARY_ID
    x[1, 4:, 0] = 0                                   # a shorter source
    x[2, 5:, 1] = 0                                   # a shorter target
    return x


def test_forward_shapes_and_cache_layout():
    m = _tiny(encoder_layers=1, decoder_layers=3)
    logits, cache = m(_packed())
    assert logits.shape == (3, 6, 11)
    assert cache.shape == (3, 3, 2, 4, 6, 4)          # (L, B, k|v, nh, T, hs)
    enc = m.encode(_packed()[..., 0])
    assert enc.memory.shape == (3, 6, 16) and enc.keys.shape == (3, 6, 3, 32)
    assert enc.state.shape == (3, 3, 2, 4, 0, 4)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_step_by_step_equals_teacher_forcing(positional):
    torch.manual_seed(0)
    m = _tiny(positional=positional, encoder_layers=2, decoder_layers=2)
    for p in m.parameters():                          # away from the small GPT-2 init
        torch.nn.init.normal_(p, std=0.3)
    m.eval()
    x = _packed(seed=1)
    enc = m.encode(x[..., 0])
    fast, fast_cache = m.decode_parallel(x[..., 1], enc)
    ref, ref_cache = m.decode_loop(x[..., 1], enc)
    assert fast.abs().max() > 1e-2                     # not a trivially flat output
    assert torch.allclose(fast, ref, atol=1e-5)
    assert torch.allclose(fast_cache, ref_cache, atol=1e-5)


@torch.no_grad()
def test_padding_in_the_source_is_never_attended():
    torch.manual_seed(0)
    m = _tiny().eval()
    x = _packed()
    enc = m.encode(x[..., 0])
    logits, _, weights = m.step(x[:, 0, 1], enc.state, enc)     # (B, V), (B, S)
    assert float(weights[1, 4:].abs().sum()) == 0.0
    assert torch.allclose(weights.sum(-1), torch.ones(3))
    alone = m.encode(x[1:2, :4, 0])                             # the same source, unpadded
    logits_alone, _, _ = m.step(x[1:2, 0, 1], alone.state, alone)
    assert torch.allclose(logits_alone[0], logits[1], atol=1e-6)


def test_greedy_and_beam_search_run_unchanged():
    torch.manual_seed(0)
    m = _tiny().eval()
    greedy = greedy_decode(m, [[4, 5, 6], [7, 8]], max_length=5)
    assert len(greedy) == 2 and greedy[1].attention.shape[1] == 2
    beams = beam_search(m, [4, 5, 6], beam=3, max_length=5)
    one = beam_search(m, [4, 5, 6], beam=1, max_length=5)
    assert one[0].ids == greedy[0].ids and 1 <= len(beams) <= 3
    assert [h.truncated for h in beams] == sorted(h.truncated for h in beams)


def test_build_seq2seq_picks_the_topology():
    assert isinstance(build_seq2seq(dict(source_vocab=5, target_vocab=5, cell="transformer",
                                         decoder_cell="transformer", hidden_size=8,
                                         num_heads=2)), TransformerSeq2Seq)
    hybrid = build_seq2seq(dict(source_vocab=5, target_vocab=5, cell="transformer",
                                decoder_cell="lstm", hidden_size=8, decoder_size=8))
    assert isinstance(hybrid, Seq2Seq)
    with pytest.raises(RnnkitError, match="transformer encoder's memory"):
        build_seq2seq(dict(source_vocab=5, target_vocab=5, cell="lstm",
                           decoder_cell="transformer"))
    with pytest.raises(RnnkitError, match="not divisible"):
        TransformerSeq2SeqConfig(5, 5, hidden_size=10, num_heads=4)


def reverse_batch(B: int, g: torch.Generator):
    """Strings of 3-5 symbols (ids 3..6) and their reversals, packed as Seq2Seq inputs."""
    n = torch.randint(3, 6, (B,), generator=g)
    src = torch.randint(3, 7, (B, 5), generator=g) * (torch.arange(5) < n[:, None])
    x = torch.zeros(B, 6, 2, dtype=torch.long)
    y = torch.full((B, 6), IGNORE)
    x[:, :5, 0] = src
    for i in range(B):
        rev = src[i, : n[i]].flip(0)
        x[i, : n[i] + 1, 1] = torch.cat([torch.tensor([BOUNDARY_ID]), rev])
        y[i, : n[i] + 1] = torch.cat([rev, torch.tensor([BOUNDARY_ID])])
    return x, y, src, n


def reversal_accuracy(m, steps: int = 300) -> float:
    """Train ``m`` to reverse strings; the share of 200 fresh strings reversed exactly (chance
    of an exact match is below 1/64)."""
    from rnnkit.train.losses import seq_loss
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    m.train()
    for _ in range(steps):
        x, y, _, _ = reverse_batch(32, g)
        loss = seq_loss(m(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, _, src, n = reverse_batch(200, g)
    sources = [src[i, : n[i]].tolist() for i in range(200)]
    hyps = greedy_decode(m, sources, max_length=8)
    return sum(h.ids == s[::-1] for h, s in zip(hyps, sources)) / 200


def test_transformer_seq2seq_learns_to_reverse():
    torch.manual_seed(0)
    m = TransformerSeq2Seq(TransformerSeq2SeqConfig(7, 7, embed_size=32, hidden_size=32,
                                                    num_heads=4, ff_mult=2, encoder_layers=1,
                                                    decoder_layers=1))
    exact = reversal_accuracy(m)
    assert exact > 0.5, exact                           # chance: < 0.02


def test_a_causal_encoder_reads_left_to_right_and_attention_still_reverses():
    """The window MLP and the causal CNN have no backward form: the seq2seq encoder runs them
    left to right. The CNN's receptive field tells attention where each symbol stands, so the
    decoder learns to reverse; the per-position MLP's memory carries no order at all (every
    position is encoded alike), so it cannot, whatever attention does."""
    from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
    exact = {}
    for cell in ("cnn", "mlp"):
        torch.manual_seed(0)
        m = Seq2Seq(Seq2SeqConfig(7, 7, cell=cell, embed_size=32, hidden_size=32,
                                  decoder_size=32))
        assert not m.config.bidirectional_encoder
        exact[cell] = reversal_accuracy(m, steps=400)
    assert exact["cnn"] > 0.5 and exact["mlp"] < 0.3, exact     # chance: < 0.02
