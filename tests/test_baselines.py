"""Baselines in the encoders' API: causality, chunked == whole, KV-cache step == forward,
lengths, registration by name, per-layer outputs, and a learning test."""

import pytest
import torch

from rnnkit.errors import RnnkitError
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.models.baselines import (CNNConfig, CNNEncoder, MLPConfig, MLPEncoder,
                                     TransformerConfig, TransformerEncoder)
from rnnkit.models.encoders import ENCODERS, STATELESS, build_encoder, forward_layers

F64 = dict(dtype=torch.float64)


def encoders():
    torch.manual_seed(0)
    return {
        "mlp": MLPEncoder(MLPConfig(3, 8, num_layers=2, window=4)).double(),
        "cnn": CNNEncoder(CNNConfig(3, 8, num_layers=3, kernel_size=2)).double(),
        "transformer": TransformerEncoder(TransformerConfig(3, 8, num_heads=2, max_len=64)).double(),
        "transformer_learned": TransformerEncoder(
            TransformerConfig(3, 8, num_heads=2, max_len=64, positional="learned")).double(),
    }


@pytest.mark.parametrize("name", list(encoders()))
def test_outputs_never_read_later_inputs(name):
    enc = encoders()[name]
    x = torch.randn(2, 12, 3, **F64, requires_grad=True)
    y, _ = enc(x)
    w = torch.randn(y.shape[-1], **F64)       # a LayerNorm output sums to a constant
    (grad,) = torch.autograd.grad((y[:, 5] @ w).sum(), x)
    assert grad[:, 6:].abs().max() == 0 and grad[:, 5].abs().max() > 0


@pytest.mark.parametrize("name", list(encoders()))
def test_chunks_with_the_carried_window_equal_one_whole_run(name):
    enc = encoders()[name]
    x = torch.randn(2, 20, 3, **F64)
    whole, _ = enc(x)
    parts, state = [], None
    for chunk in (x[:, :7], x[:, 7:8], x[:, 8:20]):
        y, state = enc(chunk, state)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_transformer_kv_cache_step_equals_forward_on_outputs(positional):
    torch.manual_seed(1)
    enc = TransformerEncoder(TransformerConfig(3, 8, num_layers=2, num_heads=2, max_len=32,
                                               positional=positional)).double()
    x = torch.randn(2, 15, 3, **F64)
    whole, _ = enc(x)
    cache, steps = None, []
    for x_t in x.unbind(1):
        y, cache = enc.step(x_t, cache)
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), whole, rtol=1e-10, atol=1e-10)
    assert cache[0][0].shape == (2, 2, 15, 4)                   # (B, nh, n, hs)


def test_learned_positions_refuse_a_sequence_longer_than_the_table():
    enc = TransformerEncoder(TransformerConfig(3, 8, num_heads=2, max_len=8,
                                               positional="learned"))
    with pytest.raises(RnnkitError, match="learned positions stop at 8"):
        enc(torch.randn(1, 9, 3))


def test_bidirectional_transformer_sees_the_future_but_not_the_padding():
    torch.manual_seed(2)
    enc = build_encoder("transformer", 3, 8, 2, bidirectional=True, num_heads=2)
    x = torch.randn(2, 6, 3, requires_grad=True)
    y, _ = enc(x, lengths=torch.tensor([6, 4]))
    (grad,) = torch.autograd.grad((y[:, 0] @ torch.randn(8)).sum(), x)
    assert grad[0, 5].abs().max() > 0                          # reads a later input
    assert grad[1, 4:].abs().max() == 0                        # never a padded one
    assert y[1, 4:].abs().max() == 0                           # padded outputs are zero
    alone, _ = enc(x[1:, :4])
    torch.testing.assert_close(y[1, :4], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "cnn", "transformer"])
def test_lengths_give_zero_padded_outputs_and_real_steps_unchanged(name):
    enc = encoders()[name]
    x = torch.randn(2, 9, 3, **F64)
    y, _ = enc(x, lengths=torch.tensor([9, 5]))
    assert y[1, 5:].abs().max() == 0
    alone, _ = enc(x[1:, :5])
    torch.testing.assert_close(y[1, :5], alone[0])


def test_receptive_field_is_reported_and_is_exact():
    cnn = CNNEncoder(CNNConfig(2, 4, num_layers=3, kernel_size=3))   # dilations 1, 2, 4
    assert cnn.receptive_field == 1 + 2 * (1 + 2 + 4) == 15
    x = torch.randn(1, 30, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(cnn(x)[0][:, 29].sum(), x)
    reached = (grad[0].abs().sum(-1) > 0).nonzero().flatten()
    assert reached.min() == 29 - 14 and reached.max() == 29


def test_every_cell_name_builds_a_language_model_that_generates():
    from rnnkit.infer import generate_tokens
    assert {"mlp", "cnn", "transformer"} <= set(ENCODERS) and set(STATELESS) == {
        "mlp", "cnn", "transformer"}
    for cell in ENCODERS:
        lm = LanguageModel(LMConfig(vocab_size=11, cell=cell, embed_size=6, hidden_size=8,
                                    num_layers=2))
        tokens = list(generate_tokens(lm, torch.tensor([1, 2, 3]), 5))
        assert len(tokens) == 5 and all(0 <= t < 11 for t in tokens)


@pytest.mark.parametrize("cell", ENCODERS)
def test_forward_layers_gives_each_layer_and_ends_with_the_output(cell):
    torch.manual_seed(3)
    enc = build_encoder(cell, 4, 8, 2)
    x = torch.randn(2, 5, 4)
    y, state = enc(x)
    layers, state2 = forward_layers(enc, x)
    assert len(layers) == 2 and all(h.shape == (2, 5, enc.output_size) for h in layers)
    torch.testing.assert_close(layers[-1], y)
    loss = layers[-1].sum()
    assert torch.autograd.grad(loss, layers[0])[0].abs().sum() > 0   # layer 0 feeds layer 1


def test_build_encoder_refuses_options_and_forms_a_cell_does_not_have():
    assert build_encoder("mlp", 3, 4, window=5).config.window == 5
    with pytest.raises(RnnkitError, match="no option window"):
        build_encoder("lstm", 3, 4, window=5)
    with pytest.raises(RnnkitError, match="no bidirectional form"):
        build_encoder("cnn", 3, 4, bidirectional=True)
    with pytest.raises(RnnkitError, match="divisible"):
        build_encoder("transformer", 3, 10, num_heads=4)


@pytest.mark.slow
def test_window_mlp_cannot_recall_beyond_its_window_but_the_transformer_can():
    """Copy the first token after 6 steps: an MLP with window 4 is at chance, attention is not."""
    torch.manual_seed(0)
    V, T = 4, 8

    def batch():
        tokens = torch.randint(0, V, (64, T))
        return torch.nn.functional.one_hot(tokens, V).float(), tokens[:, 0]

    results = {}
    for cell, opts in (("mlp", dict(window=4)), ("transformer", dict(num_heads=2))):
        enc = build_encoder(cell, V, 32, 2, **opts)
        head = torch.nn.Linear(32, V)
        params = [*enc.parameters(), *head.parameters()]
        opt = torch.optim.Adam(params, lr=3e-3)
        for _ in range(400):
            x, y = batch()
            loss = torch.nn.functional.cross_entropy(head(enc(x)[0][:, -1]), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        x, y = batch()
        results[cell] = (head(enc(x)[0][:, -1]).argmax(-1) == y).float().mean().item()
    assert results["mlp"] < 0.45 and results["transformer"] > 0.9, results
