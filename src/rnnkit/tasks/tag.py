"""Sequence tagging (many-to-many aligned: a part-of-speech tag per word).

    sentences -> TagCodec (word ids and the characters of each word)
      -> Tagger: word embedding + a character encoder per word -> bidirectional recurrent
         encoder (unless --unidirectional) -> a tag distribution per token
      -> cross-entropy per real token

Figures: token accuracy, macro-F1, and the accuracy on words never seen in training.
"""

from __future__ import annotations

import argparse

import torch

from rnnkit.errors import RnnkitError
from rnnkit.models.portable import tagger_graphs
from rnnkit.models.sizing import build_checked
from rnnkit.models.tagger import Tagger, TaggerConfig
from rnnkit.tasks.flags import probability
from rnnkit.tasks.labelled import DEFAULTS, LabelledTask
from rnnkit.train.losses import tag_loss
from rnnkit.train.run import RunSpec
from rnnkit.train.task_eval import predict_logits
from rnnkit.typed import config_from


class TagTask(LabelledTask):
    name = "tag"
    help = "tagger: one tag per word (word + character bidirectional encoder)"
    derived = ("num_tags", "vocab_size", "char_vocab_size")
    what = "tagger"
    unit = "tokens"
    defaults = dict(DEFAULTS, char_hidden=32)

    def add_train_flags(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--char-hidden", type=int, metavar="N",
                       help="character encoder size per direction, 0 = none")
        p.add_argument("--word-dropout", type=probability, metavar="P",
                       help="chance a training word becomes unknown (0.05)")
        super().add_train_flags(p)

    def spec(self, s: dict) -> RunSpec:
        model = dict(cell=s["cell"], word_embed=s["embed"], hidden_size=s["hidden"],
                     num_layers=s["layers"], dropout=s["dropout"],
                     bidirectional=not s.get("unidirectional"), char_hidden=s["char_hidden"],
                     positional=s["positional"])
        if "word_dropout" in s:
            model["word_dropout"] = s["word_dropout"]
        return self.spec_of(s, self.data_config(s), model)

    def make_model(self, codec, settings: dict):
        config = config_from(TaggerConfig, settings, "the model settings",
                             num_tags=len(codec.labels), vocab_size=codec.words.size,
                             char_vocab_size=codec.chars.size)
        return build_checked(lambda: Tagger(config)), config

    def embed_size(self, config: TaggerConfig) -> int:
        return config.word_embed

    def model_of(self, settings: dict):
        config = config_from(TaggerConfig, settings, "the model config")
        return build_checked(lambda: Tagger(config), training=False)

    portable_graphs = staticmethod(tagger_graphs)   # rnnkit export's graphs

    def loss_of(self, data, prepared):
        return tag_loss

    def diagnosis_loss(self):
        return tag_loss

    def predict(self, model, codec, inputs: list) -> list[dict]:
        """``{"tokens", "tags"}`` per sentence (whitespace-separated words, or a token list);
        words beyond the run's max_len are cut, announced."""
        sentences = [x.split() if isinstance(x, str) else list(x) for x in inputs]
        if any(not s for s in sentences):
            raise RnnkitError("a sentence to tag is empty")
        labels = codec.labels.labels
        logits = predict_logits(model, [torch.from_numpy(x)
                                        for x in codec.encode_all(sentences)])
        return [{"tokens": words, "tags": [labels[i] for i in row.argmax(-1).tolist()]}
                for words, row in zip(sentences, logits)]

    def show(self, output: dict) -> str:
        return " ".join(f"{w}/{t}" for w, t in zip(output["tokens"], output["tags"]))
