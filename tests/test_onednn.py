"""oneDNN's prepacked linear (rnnkit.nn.fast.onednn): tried once, and where a torch lacks its ops
the explicit layers fall back to torch.mm and still compute torch.nn's numbers."""

import pytest
import torch

import rnnkit.nn as rn
from rnnkit.nn.fast import onednn
from rnnkit.nn.fast.explicit_common import PACKED_MIN_WEIGHT, RecurrentProduct

# Hidden sizes whose recurrent weight (G*H, H) is large enough for the packed product.
PACKED_HIDDEN = {"gru": 296, "lstm": 256}


@pytest.fixture
def ops_missing(monkeypatch):
    """The probe finds the ops gone, as in a torch that renamed them; the answer is not kept
    past the test."""
    def missing():
        raise RuntimeError("No such operator mkldnn::_reorder_linear_weight")
    monkeypatch.setattr(onednn, "_checked", {})
    monkeypatch.setattr(onednn, "try_ops", missing)


def test_the_probe_runs_once_and_its_answer_is_kept(monkeypatch):
    calls = []
    monkeypatch.setattr(onednn, "_checked", {})
    monkeypatch.setattr(onednn, "try_ops", lambda: calls.append(1))
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
    assert onednn.available() and onednn.available()
    assert len(calls) == 1


def test_missing_ops_give_the_public_product_and_one_notice(ops_missing, capsys):
    torch.manual_seed(2)
    weight, h, acc = torch.randn(1024, 256), torch.randn(3, 256), torch.randn(3, 1024)
    assert weight.numel() >= PACKED_MIN_WEIGHT
    product = RecurrentProduct(weight, 3)
    RecurrentProduct(weight, 3)
    assert not product.packed
    torch.testing.assert_close(product(acc.clone(), h), acc + h @ weight.T, atol=1e-4,
                               rtol=1e-5)
    notes = [line for line in capsys.readouterr().err.splitlines() if "oneDNN" in line]
    assert len(notes) == 1 and notes[0].startswith("rnnkit: note: ")


@pytest.mark.parametrize("loops", ["compiled", "python"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_explicit_layers_match_torch_nn_without_the_ops(ops_missing, request, cell, loops):
    """Outputs, final states and every weight gradient against torch.nn with copied weights,
    bidirectional, at a size that would take the packed product if the ops were there."""
    request.getfixturevalue(f"compiled_{cell}" if loops == "compiled" else "python_loops")
    torch.manual_seed(11)
    H = PACKED_HIDDEN[cell]
    kind = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    reference = kind(5, H, bidirectional=True, batch_first=True)
    layer = rn.from_torch(reference, path="explicit")
    x = torch.randn(3, 6, 5)
    x_ref = x.clone().requires_grad_()
    x.requires_grad_()
    (y, final), (y_ref, final_ref) = layer(x), reference(x_ref)
    finals = (final,) if cell == "gru" else final
    finals_ref = (final_ref,) if cell == "gru" else final_ref
    for mine, theirs in zip((y, *finals), (y_ref, *finals_ref)):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)
    gen = torch.Generator().manual_seed(3)
    dy = torch.randn(y.shape, generator=gen)
    (y * dy).sum().backward()
    (y_ref * dy).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-4, rtol=1e-4)
    for mine, theirs in zip(layer.flat_weights(), reference._flat_weights):
        torch.testing.assert_close(mine.grad, theirs.grad, atol=1e-4, rtol=1e-4)
    assert not onednn.available()
