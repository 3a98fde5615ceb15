"""The three figures of a conditional generator, on its held-out test part.

* **NLL**: mean negative log-likelihood per symbol (nats; the end symbol counts) of the test
  texts given their condition;
* **novelty**: the share of sampled texts (``per_condition`` for every condition, temperature
  1) that are not among the training texts of any condition;
* **agreement**: the share of sampled texts that a many-to-one classifier assigns to the
  condition they were sampled for. The classifier is an rnnkit classifier run (``rnnkit train
  --task classify``) when one is given, else a character 1-4-gram TF-IDF logistic regression
  (scikit-learn) fitted on the generator's own training texts. Its accuracy on the real test
  texts is reported beside it: agreement near that figure means the samples are as
  recognisable as real names.
"""

from __future__ import annotations

import sys

from pathlib import Path

import numpy as np
import torch

from rnnkit.data.padded import PaddedBatches
from rnnkit.errors import RnnkitError
from rnnkit.infer.conditional import sample_conditional
from rnnkit.infer.sampling import SamplingConfig
from rnnkit.infer.stopping import GenerationLimits
from rnnkit.train.loop import evaluate_loss
from rnnkit.train.losses import seq_loss


def _rnnkit_classifier(run: Path):
    from rnnkit.tasks.loading import load
    from rnnkit.tasks.registry import TASKS
    model, codec = load(run)
    if not hasattr(codec, "labels"):
        raise RnnkitError(f"--classifier '{run}' is not a classifier run")

    def predict(texts: list[str]) -> list[str]:
        return [p["label"] for p in TASKS["classify"].predict(model, codec, texts)]
    return predict, f"rnnkit classifier run {run}", set(codec.labels.labels)


def _ngram_classifier(texts, labels):
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
    except ImportError:  # an optional figure: announced, the other figures are kept
        print("rnnkit: warning: classifier agreement skipped: the n-gram classifier needs "
              "scikit-learn (pip install scikit-learn), or give --classifier RUN",
              file=sys.stderr)
        return None
    pipe = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4)),
                         LogisticRegression(max_iter=2000, C=10.0))
    pipe.fit(list(texts), list(labels))
    return (lambda xs: list(pipe.predict(list(xs)))), \
        "char 1-4-gram TF-IDF + logistic regression", set(labels)


def evaluate_condgen(data, model, codec, *, per_condition: int = 100, seed: int = 0,
                     classifier: str | Path | None = None, max_length: int = 32) -> dict:
    """NLL on test, novelty and classifier agreement of a trained conditional generator on its
    prepared data (``rnnkit.tasks.condgen.prepare``)."""
    from rnnkit.tasks.condgen import encode_pairs
    symbols, conditions = codec
    test = PaddedBatches(*encode_pairs(symbols, data.conditions, data.test), 256, shuffle=False)
    nll = evaluate_loss(model, seq_loss, test)
    torch.manual_seed(seed)
    asked = [c for c in conditions for _ in range(per_condition)]
    samples = sample_conditional(model, codec, asked, sampling=SamplingConfig(1.0, seed=seed),
                                 limits=GenerationLimits(max_length))
    texts = [s.text for s in samples]
    seen = set(data.train.inputs) | set(data.val.inputs)
    novel = float(np.mean([t not in seen for t in texts]))
    scored = [(t, c) for t, c in zip(texts, asked) if t]
    figures = {"test_nll": nll["loss"], "test_symbols": nll["tokens"], "samples": len(texts),
               "novel": novel, "truncated": sum(s.truncated for s in samples),
               "empty": len(texts) - len(scored),
               "examples": {c: texts[i * per_condition: i * per_condition + 5]
                            for i, c in enumerate(conditions)}}
    if classifier is not None:
        predict, name, known = _rnnkit_classifier(Path(classifier))
    else:
        found = _ngram_classifier(data.train.inputs + data.val.inputs,
                                  data.train.targets + data.val.targets)
        if found is None:
            return {**figures, "agreement": None, "classifier": None,
                    "classifier_test_accuracy": None}
        predict, name, known = found
    missing = set(conditions) - known
    if missing:
        raise RnnkitError(f"the classifier does not know the condition(s) {sorted(missing)}")
    guessed = predict([t for t, _ in scored])
    agreement = float(np.mean([g == c for g, (_, c) in zip(guessed, scored)]))
    real = predict(list(data.test.inputs))
    real_accuracy = float(np.mean([g == c for g, c in zip(real, data.test.targets)]))
    return {**figures, "agreement": agreement, "classifier": name,
            "classifier_test_accuracy": real_accuracy}


def summary(figures: dict) -> str:
    """A conditional generator's test figures in one line."""
    line = (f"test NLL {figures['test_nll']:.4f} nats per symbol; {figures['samples']} "
            f"samples: {100 * figures['novel']:.1f}% new")
    if figures["agreement"] is not None:
        line += (f", {100 * figures['agreement']:.1f}% classified as the asked condition "
                 f"({figures['classifier']}; on real test names "
                 f"{100 * figures['classifier_test_accuracy']:.1f}%)")
    return line
