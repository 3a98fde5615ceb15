"""Mixed precision (``--precision bf16``): every recurrent path runs under bfloat16 autocast,
stays close to float32 on the same weights (outputs and every gradient), keeps its parameters
and their gradients in float32, and a model trained in bf16 still learns what needs memory."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit.nn as rn
from rnnkit.data.stream import StreamBatcher
from rnnkit.errors import RnnkitError
from rnnkit.models import ENCODERS
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer

# (cell, path, options) for every path a layer can take; the explicit ones are custom Functions.
LAYERS = [
    ("lstm", "fused", {}),
    ("lstm", "explicit", {}),
    ("lstm", "explicit", {"layer_norm": True}),
    ("lstm", "explicit", {"recurrent_dropout": 0.3}),
    ("gru", "explicit", {}),
    ("rnn_tanh", "explicit", {}),
    ("rnn_relu", "explicit", {}),
    ("gru", "loop", {}),
    ("lstm", "loop", {}),
    ("rnn_tanh", "loop", {}),
]


pytestmark = pytest.mark.usefixtures("one_thread")


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0))


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm())


def run(layer: nn.Module, x: torch.Tensor, weights: torch.Tensor, bf16: bool, seed: int):
    """Outputs and the gradients of every parameter and of x for a fixed random projection."""
    layer.zero_grad(set_to_none=True)
    x = x.detach().requires_grad_()
    torch.manual_seed(seed)                                  # the same dropout masks both times
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y, _ = layer(x)
    (y.float() * weights).sum().backward()
    return y, [x.grad] + [p.grad for p in layer.parameters()]


@pytest.mark.parametrize("cell,path,options,bidirectional",
                         [(*layer, bidi) for layer, bidi in itertools.product(LAYERS,
                                                                              (False, True))])
def test_bf16_autocast_stays_close_to_float32(cell, path, options, bidirectional):
    torch.manual_seed(0)
    layer = rn.build_recurrent(rn.RecurrentConfig(cell, 8, 16, batch_first=True,
                                                  num_layers=2, path=path,
                                                  bidirectional=bidirectional, **options))
    x = torch.randn(3, 11, 8)
    y32, g32 = run(layer, x, weights := torch.randn(3, 11, 16 * (2 if bidirectional else 1)),
                   bf16=False, seed=1)
    y16, g16 = run(layer, x, weights, bf16=True, seed=1)
    # every path returns bf16 (the layer-norm LSTM stays float32 on purpose)
    assert y16.dtype == (torch.float32 if options.get("layer_norm") else torch.bfloat16)
    # bf16 keeps 8 significant bits (relative rounding 2^-9); over 2 layers x 11 steps the
    # outputs drift by about 1 % of their norm
    assert relative_error(y16.float(), y32) < 0.03
    for p in layer.parameters():
        assert p.dtype == torch.float32 and p.grad.dtype == torch.float32
    for g, g_ref in zip(g16, g32):
        assert cosine(g, g_ref) > 0.99


def test_bf16_is_not_float32_in_disguise():
    # The comparison above must be able to fail: bf16 differs from float32, just not by much.
    torch.manual_seed(0)
    layer = rn.build_recurrent(rn.RecurrentConfig("gru", 8, 16, batch_first=True, path="explicit"))
    x, weights = torch.randn(3, 11, 8), torch.randn(3, 11, 16)
    y32, _ = run(layer, x, weights, bf16=False, seed=1)
    y16, _ = run(layer, x, weights, bf16=True, seed=1)
    assert relative_error(y16.float(), y32) > 1e-4


@pytest.mark.parametrize("cell", ENCODERS)
def test_every_encoder_trains_a_step_in_bf16(cell):
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=12, cell=cell, embed_size=16, hidden_size=16))
    stream = torch.randint(0, 12, (400,), generator=torch.Generator().manual_seed(2))
    trainer = Trainer(model, TrainConfig(steps=2, warmup_steps=0, eval_every=0,
                                         precision="bf16"),
                      lambda logits, y: F.cross_entropy(logits.flatten(0, 1), y.flatten()))
    before = [p.detach().clone() for p in model.parameters()]
    metrics = []
    trainer.fit(StreamBatcher(stream, 4, 9), on_step=metrics.append, progress=False)
    assert not any(m["skipped"] for m in metrics)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert any(not torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_a_bf16_model_learns_a_pattern_that_needs_memory():
    # "aaab" repeated: after three a's comes b, which only a model that counts can predict.
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=2, cell="gru", embed_size=16, hidden_size=16,
                                   num_layers=1))
    stream = torch.tensor([0, 0, 0, 1] * 500)
    trainer = Trainer(model, TrainConfig(steps=150, lr=2e-2, warmup_steps=10, eval_every=0,
                                         precision="bf16"),
                      lambda logits, y: F.cross_entropy(logits.flatten(0, 1), y.flatten()))
    losses = []
    trainer.fit(StreamBatcher(stream, 4, 16), on_step=lambda m: losses.append(m["loss"]),
                progress=False)
    # A memoryless predictor cannot go below 0.75 * H(2/3, 1/3) = 0.477 nats on "aaab".
    assert sum(losses[-10:]) / 10 < 0.1


def test_unknown_precision_is_refused_in_one_line():
    with pytest.raises(RnnkitError, match="precision must be one of fp32, bf16"):
        TrainConfig(precision="fp16")
