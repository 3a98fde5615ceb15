"""Predict with a trained classifier or tagger: labels with probabilities, or tags per token.

>>> model, codec = rnnkit.load("runs/tweets")                        # doctest: +SKIP
>>> classify(model, codec, ["what a lovely drive"])[0].label       # doctest: +SKIP
'positive'
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rnnkit.data.codec import Codec, TagCodec
from rnnkit.errors import RnnkitError
from rnnkit.train.task_eval import predict_logits


@dataclass(frozen=True)
class Prediction:
    """One example's predicted label and the probability of every label."""

    label: str                          # the most probable label
    probabilities: dict[str, float]     # label -> softmax probability, in label order


def classify(model: nn.Module, codec: Codec, examples: list) -> list[Prediction]:
    """Labels of texts (or (T, C) series), each with its probabilities."""
    if isinstance(codec, TagCodec):
        raise RnnkitError("this run is a tagger; give it sentences to tag")
    inputs = [torch.as_tensor(x) for x in codec.encode_all(examples)]
    out = []
    for logits in predict_logits(model, inputs):
        p = torch.softmax(logits.float(), -1).tolist()
        labels = codec.labels.labels
        out.append(Prediction(labels[max(range(len(p)), key=p.__getitem__)],
                              dict(zip(labels, p))))
    return out


def tag(model: nn.Module, codec: TagCodec, sentences: list[list[str]]) -> list[list[str]]:
    """The tag of every token of every sentence (tokens beyond max_len are cut, announced)."""
    inputs = [torch.from_numpy(x) for x in codec.encode_all(sentences)]
    labels = codec.labels.labels
    return [[labels[i] for i in logits.argmax(-1).tolist()]
            for logits in predict_logits(model, inputs)]
