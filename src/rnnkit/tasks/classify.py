"""Sequence classification (many-to-one: sentiment, speaker, locale of a name, a series' class).

    texts or (T, C) series -> codec (words, characters, or standardised frames)
      -> SequenceClassifier: embedding or vectors -> recurrent encoder (bidirectional unless
         --unidirectional, any cell) -> pooling (last, mean, max or attention) -> head
      -> cross-entropy, optionally weighted by inverse class frequency

Figures: accuracy and macro-F1 with a per-class table and a confusion matrix.
"""

from __future__ import annotations

import argparse

import torch

from rnnkit.data.codec import SeriesCodec
from rnnkit.data.datasets import read_ts
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.pooling import POOLINGS
from rnnkit.models.portable import classifier_graphs
from rnnkit.models.sizing import build_checked
from rnnkit.data.codec import TEXT_LEVELS
from rnnkit.tasks.flags import add_csv_flags, add_subword_flags, nonnegative_float, \
    positive_int
from rnnkit.tasks.labelled import DEFAULTS, LabelledTask
from rnnkit.train.losses import balanced_weights, classify_loss
from rnnkit.train.run import RunSpec
from rnnkit.train.task_eval import predict_logits
from rnnkit.typed import config_from


class ClassifyTask(LabelledTask):
    name = "classify"
    help = "classifier: one label per sequence (text or time series)"
    derived = ("num_classes", "vocab_size")
    what = "classifier"
    defaults = dict(DEFAULTS, pooling="last", text_column="text", label_column="label",
                    encoding="utf-8", level="word", frame=1)

    def add_train_flags(self, p: argparse.ArgumentParser) -> None:
        add_csv_flags(p)
        p.add_argument("--level", choices=TEXT_LEVELS,
                       help="text tokens: words, characters, or subword pieces learned from "
                            "the training texts")
        add_subword_flags(p)
        p.add_argument("--frame", type=positive_int, metavar="K",
                       help="series: stack K steps into one model step")
        p.add_argument("--pooling", choices=POOLINGS, help="how the states become one vector")
        p.add_argument("--class-weights", action="store_true",
                       help="weight the loss by inverse class frequency")
        super().add_train_flags(p)

    def spec(self, s: dict) -> RunSpec:
        data = self.data_config(s, text_column=s["text_column"], label_column=s["label_column"],
                                encoding=s["encoding"], level=s["level"], frame=s["frame"],
                                class_weights=bool(s.get("class_weights")),
                                **{k: s[k] for k in ("subword_model", "subword_vocab") if k in s})
        model = dict(cell=s["cell"], input_size=s["embed"], hidden_size=s["hidden"],
                     num_layers=s["layers"], dropout=s["dropout"],
                     bidirectional=not s.get("unidirectional"), pooling=s["pooling"],
                     positional=s["positional"])
        return self.spec_of(s, data, model)

    def make_model(self, codec, settings: dict):
        if isinstance(codec, SeriesCodec):
            settings = {**settings, "vocab_size": 0, "input_size": codec.features}
        else:
            settings = {**settings, "vocab_size": codec.vocab.size}
        config = config_from(ClassifierConfig, settings, "the model settings",
                             num_classes=len(codec.labels))
        return build_checked(lambda: SequenceClassifier(config)), config

    def embed_size(self, config: ClassifierConfig) -> int:
        return config.input_size

    def model_of(self, settings: dict):
        config = config_from(ClassifierConfig, settings, "the model config")
        return build_checked(lambda: SequenceClassifier(config), training=False)

    portable_graphs = staticmethod(classifier_graphs)   # rnnkit export's graphs

    def loss_of(self, data, prepared):
        weight = balanced_weights(prepared.train[1], len(prepared.codec.labels)) \
            if data.class_weights else None
        return classify_loss(weight)

    def diagnosis_loss(self):
        return classify_loss(None)

    def add_evaluate_flags(self, p: argparse.ArgumentParser) -> None:
        super().add_evaluate_flags(p)
        p.add_argument("--logit-adjust", type=nonnegative_float, metavar="TAU",
                       help="predict argmax of logit - TAU log(prior), the prior being the "
                            "training labels' shares: rare labels recalled more, for macro-F1 "
                            "(Menon et al. 2021; choose TAU with --validation; default 0)")

    def add_predict_flags(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--top", type=positive_int, metavar="N",
                       help="show only the N most probable labels (default: all)")

    def read_inputs(self, texts: list[str], codec) -> list:
        """A time-series run reads each argument as a .ts file, every series in it."""
        if isinstance(codec, SeriesCodec):
            return [x for path in texts for x in read_ts(path).inputs]
        return texts

    def predict(self, model, codec, inputs: list, *, top: int = 0) -> list[dict]:
        """``{"label", "probabilities"}`` per text (or (T, C) series): the most probable label
        and the ``top`` most probable labels' probabilities (all by default), highest first."""
        for x in inputs:
            if isinstance(x, str) and not x.strip():
                raise RnnkitError("a text to classify is empty")
        labels = codec.labels.labels
        out = []
        for logits in predict_logits(model, [torch.as_tensor(x)
                                             for x in codec.encode_all(inputs)]):
            p = torch.softmax(logits.float(), -1).tolist()
            ranked = sorted(zip(labels, p), key=lambda kv: -kv[1])
            out.append({"label": ranked[0][0],
                        "probabilities": dict(ranked[:top] if top else ranked)})
        return out

    def show(self, output: dict) -> str:
        return output["label"] + "\t" + " ".join(f"{k}={v:.3f}"
                                                 for k, v in output["probabilities"].items())
