"""The sequence classifier and its pooling: padding never changes a prediction, each pooling
reads the steps it should, and the model learns a task that needs the whole sequence."""

import pytest
import torch

from rnnkit.data.codec import SeriesCodec, TextCodec, codec_from_dict
from rnnkit.data.padded import PaddedBatches, pad_batch
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.pooling import POOLINGS, Pooling
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer
from rnnkit.train.losses import balanced_weights, classify_loss


def test_last_pooling_takes_each_direction_where_it_ends():
    out = torch.randn(2, 5, 6)                    # D = 2, H = 3
    lengths = torch.tensor([5, 2])
    pooled = Pooling("last", 6, 2)(out, lengths)
    assert torch.equal(pooled[1, :3], out[1, 1, :3]) and torch.equal(pooled[1, 3:], out[1, 0, 3:])
    assert torch.equal(Pooling("last", 6, 1)(out, lengths)[1], out[1, 1])


@pytest.mark.parametrize("mode", ["mean", "max", "attention"])
def test_pooling_ignores_padded_steps(mode):
    torch.manual_seed(0)
    pool = Pooling(mode, 4, 1)
    out = torch.randn(1, 3, 4)
    padded = torch.cat([out, 100 * torch.randn(1, 4, 4)], dim=1)
    assert torch.allclose(pool(out, torch.tensor([3])), pool(padded, torch.tensor([3])),
                          atol=1e-6)


@pytest.mark.parametrize("cell,bidirectional", [("lstm", True), ("gru", False), ("gru", True),
                                                ("mingru", False)])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_prediction_does_not_depend_on_padding(cell, bidirectional, pooling):
    torch.manual_seed(1)
    model = SequenceClassifier(ClassifierConfig(num_classes=3, vocab_size=20, input_size=8,
                                                hidden_size=8, cell=cell, pooling=pooling,
                                                bidirectional=bidirectional)).eval()
    seqs = [torch.randint(2, 20, (n,)) for n in (7, 3, 1)]
    batch = pad_batch(seqs, [0, 1, 2])
    together, _ = model(batch.inputs, lengths=batch.lengths)
    for i, s in enumerate(seqs):
        alone, _ = model(s[None], lengths=torch.tensor([len(s)]))
        assert torch.allclose(together[i], alone[0], atol=1e-5)


def test_numeric_vectors_go_in_without_embedding():
    model = SequenceClassifier(ClassifierConfig(num_classes=2, vocab_size=0, input_size=3))
    assert model.embed is None
    assert model(torch.randn(4, 6, 3))[0].shape == (4, 2)


def test_balanced_weights_inverse_to_frequency():
    w = balanced_weights([0, 0, 0, 1], 2)
    assert torch.allclose(w, torch.tensor([4 / 6, 2.0]))


def test_codecs_round_trip_through_a_dict():
    text = TextCodec.fit(["a b", "b c"], ["x", "y"], max_len=5)
    assert codec_from_dict(text.to_dict()) == text
    series = SeriesCodec.fit([torch.randn(4, 2).numpy()] * 2, ["x", "y"], frame=2)
    again = codec_from_dict(series.to_dict())
    assert again == series and again.encode(torch.randn(5, 2).numpy()).shape == (3, 4)


def test_classifier_learns_which_token_came_first():
    """Label = the first token (0 or 1) of a sequence of noise: only a model that carries it
    across the whole sequence (or reads backwards) can tell."""
    g = torch.Generator().manual_seed(0)
    inputs, labels = [], []
    for _ in range(256):
        label = int(torch.randint(0, 2, (1,), generator=g))
        n = int(torch.randint(4, 12, (1,), generator=g))
        seq = torch.randint(4, 12, (n,), generator=g)
        seq[0] = 2 + label
        inputs.append(seq)
        labels.append(label)
    model = SequenceClassifier(ClassifierConfig(num_classes=2, vocab_size=12, input_size=8,
                                                hidden_size=16, bidirectional=False))
    trainer = Trainer(model, TrainConfig(steps=150, lr=1e-2, warmup_steps=10, eval_every=0),
                      classify_loss(None))
    trainer.fit(PaddedBatches(inputs, labels, 32), progress=False)
    model.eval()
    batch = pad_batch(inputs, labels)
    accuracy = (model(batch.inputs, lengths=batch.lengths)[0].argmax(-1) == batch.targets)
    assert accuracy.float().mean() > 0.95
