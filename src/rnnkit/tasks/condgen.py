"""Conditional generation (one-to-many: a sequence from one condition, e.g. a name from a
locale).

    (text, condition) pairs: names with their locale (builtin:names) or a CSV's text/label
      -> validation cut            stratified by condition, from the training part only
      -> SymbolCodec (characters) and the condition set, fitted on the training part
      -> packed examples           inputs [k, <s>, y_1..y_n] (n + 2), targets [y_1..y_n, <s>]
      -> ConditionalGenerator: the initial state from the condition, the condition fed at
         every step; full BPTT per padded batch

Figures (:mod:`rnnkit.tasks.condgen_eval`): test NLL per symbol, the share of samples that are
new, and how often a classifier recognises the asked condition in them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.data.datasets import Split, load_dataset, stratified_indices
from rnnkit.data.padded import PaddedBatches
from rnnkit.data.symbols import BOUNDARY_ID, SymbolCodec
from rnnkit.data.vocab import LabelSet
from rnnkit.errors import RnnkitError
from rnnkit.infer import SamplingConfig
from rnnkit.infer.conditional import sample_conditional, stream_conditional
from rnnkit.infer.stopping import GenerationLimits
from rnnkit.models.conditional import ConditionalConfig, ConditionalGenerator
from rnnkit.models.encoders import MINIMAL, RECURRENT
from rnnkit.models.sizing import build_checked
from rnnkit.tasks import condgen_eval
from rnnkit.tasks.base import Task, epochs_of, train_config
from rnnkit.tasks.flags import (SPLIT_SEED, add_csv_flags, add_sampling_flags,
                                add_split_seed_flag, add_test_split_flags,
                                positive_generation_length, positive_int)
from rnnkit.train.loop import evaluate_loss
from rnnkit.train.losses import seq_loss
from rnnkit.train.run import RunResult, RunSetup, RunSpec
from rnnkit.train.run_folder import from_saved, write_json
from rnnkit.typed import config_from

CELLS = (*RECURRENT, *MINIMAL)


@dataclass(frozen=True)
class CondGenDataConfig:
    """Where the (text, condition) pairs come from."""

    data: str = "builtin:names"    # builtin:NAME or a CSV (text and label columns)
    text_column: str = "text"      # CSV: the text to generate
    label_column: str = "label"    # CSV: its condition
    test_fraction: float = 0.2     # held out (seeded, stratified) when the data has no split
    split_seed: int = 0            # seed of that split and of the validation cut
    val_fraction: float = 0.1      # of the training part, for the learning curve
    batch_size: int = 64           # sequences per batch
    encoding: str = "utf-8"        # CSV: text encoding of the file


def encode_pairs(codec: SymbolCodec, conditions: LabelSet, split: Split):
    """Packed inputs [k, <s>, y...] and targets [y..., <s>] of each example (unseen conditions
    refused)."""
    unseen = conditions.unseen(split.targets)
    if unseen:
        raise RnnkitError(f"conditions never seen in training: {', '.join(sorted(unseen))}")
    inputs, targets = [], []
    for text, label in zip(split.inputs, split.targets):
        ids = codec.encode(text)
        inputs.append(torch.tensor([conditions.index(label), BOUNDARY_ID, *ids]))
        targets.append(torch.tensor([*ids, BOUNDARY_ID]))
    return inputs, targets


@dataclass
class CondGenData:
    train: Split
    val: Split
    test: Split
    split: str
    codec: SymbolCodec
    conditions: LabelSet
    config: CondGenDataConfig


def prepare(config: CondGenDataConfig) -> CondGenData:
    dataset = load_dataset(config.data, text_column=config.text_column,
                           label_column=config.label_column, encoding=config.encoding,
                           test_fraction=config.test_fraction, seed=config.split_seed)
    if dataset.kind != "text":
        raise RnnkitError(f"{config.data} holds {dataset.kind} examples; conditional generation "
                          "needs texts with a label (builtin:names or a CSV)")
    train, val = dataset.train, Split((), ())
    if config.val_fraction:
        kept, held = stratified_indices(train.targets, config.val_fraction,
                                        seed=config.split_seed)
        train, val = train.subset(kept), train.subset(held)
    codec = SymbolCodec.fit(train.inputs, "char")
    conditions = LabelSet.build(train.targets)
    return CondGenData(train, val, dataset.test, dataset.split, codec, conditions, config)


class CondGenTask(Task):
    name = "condgen"
    help = "conditional generator: a sequence from one condition (names from a locale)"
    data_class = CondGenDataConfig
    derived = ("vocab_size", "num_conditions")
    can_generate = True
    cells = CELLS
    defaults = dict(cell="lstm", embed=32, hidden=256, layers=1, dropout=0.1, batch_size=64,
                    lr=3e-3, clip=1.0, warmup=50, weight_decay=0.01, seed=0, epochs=15.0,
                    val_fraction=0.1, eval_every=0, text_column="text", label_column="label",
                    encoding="utf-8", test_fraction=0.2)

    def add_train_flags(self, p: argparse.ArgumentParser) -> None:
        add_csv_flags(p)
        add_test_split_flags(p, test_data=False)
        add_split_seed_flag(p)
        p.add_argument("--classifier", metavar="RUN",
                       help="an rnnkit classifier run that scores generated texts (default: a "
                            "character n-gram logistic regression)")

    def spec(self, s: dict) -> RunSpec:
        if "data" not in s:
            raise RnnkitError("rnnkit train condgen needs --data (builtin:names or a CSV with "
                              "text and label columns; `rnnkit datasets`)")
        data = CondGenDataConfig(data=s["data"], text_column=s["text_column"],
                                 label_column=s["label_column"], encoding=s["encoding"],
                                 test_fraction=s["test_fraction"],
                                 split_seed=s.get("split_seed", SPLIT_SEED),
                                 val_fraction=s["val_fraction"], batch_size=s["batch_size"])
        model = dict(cell=s["cell"], embed_size=s["embed"], hidden_size=s["hidden"],
                     num_layers=s["layers"], dropout=s["dropout"])
        return RunSpec(data, model, train_config(s, log_every=20), epochs_of(s),
                       options={"classifier": s.get("classifier")})

    def prepare(self, data: CondGenDataConfig) -> CondGenData:
        return prepare(data)

    def build(self, prepared: CondGenData, model_settings: dict, spec: RunSpec) -> RunSetup:
        config = config_from(ConditionalConfig, model_settings, "the model settings",
                             vocab_size=prepared.codec.size,
                             num_conditions=len(prepared.conditions))
        model = build_checked(lambda: ConditionalGenerator(config))
        batches = PaddedBatches(*encode_pairs(prepared.codec, prepared.conditions,
                                              prepared.train),
                                spec.data.batch_size, seed=spec.train.seed)
        evaluate = None
        if len(prepared.val):
            val_batches = PaddedBatches(*encode_pairs(prepared.codec, prepared.conditions,
                                                      prepared.val), 128, shuffle=False)

            def evaluate() -> dict:
                return evaluate_loss(model, seq_loss, val_batches)

        return RunSetup(
            model, config, batches, len(batches), seq_loss,
            meta={"task": self.name, "model": dataclasses.asdict(config),
                  "codec": prepared.codec.to_dict(),
                  "conditions": list(prepared.conditions.labels)},
            config={"split": prepared.split, "kind": "text",
                    "examples": {"train": len(prepared.train), "validation": len(prepared.val),
                                 "test": len(prepared.test)}},
            evaluate=evaluate, title=f"{config.cell} condgen: {spec.data.data}")

    def test(self, run_dir: Path, prepared: CondGenData, setup: RunSetup, spec: RunSpec,
             step: int) -> dict:
        from rnnkit.tasks.loading import load
        net, codec = load(run_dir)
        figures = condgen_eval.evaluate_condgen(prepared, net, codec,
                                                classifier=spec.options.get("classifier"))
        write_json(run_dir / "evaluation.json", figures)
        return figures

    def report(self, result: RunResult, spec: RunSpec) -> int:
        minutes, seconds = divmod(result.seconds, 60)
        val = "no validation part" if result.evaluation is None else \
            f"validation NLL {result.evaluation['loss']:.4f} nats per symbol"
        print(f"trained {result.parameters:,} parameters for {result.steps} steps in "
              f"{int(minutes)} min {seconds:.0f} s; {val}; run folder: {result.run_dir}")
        print(condgen_eval.summary(result.test))
        return 0

    def from_meta(self, meta: dict):
        try:
            config = config_from(ConditionalConfig, meta.get("model"), "the model config")
            model = build_checked(lambda: ConditionalGenerator(config), training=False)
            return model, (SymbolCodec.from_dict(meta["codec"]), tuple(meta["conditions"]))
        except (TypeError, KeyError) as e:
            raise RnnkitError(f"the model config is not one this version knows ({e})") from None

    def add_predict_flags(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--max-length", type=positive_generation_length, metavar="N",
                       help="symbols at most; reaching it is marked truncated (32)")
        add_sampling_flags(p)

    def predict(self, model, codec, inputs: list[str], *, max_length: int = 32,
                temperature: float = 0.8, top_k: int | None = None, top_p: float | None = None,
                seed: int | None = None, stop=None) -> list[dict]:
        """One sampled output per condition name: ``{"condition", "text", "truncated",
        "stopped"}``."""
        results = sample_conditional(
            model, codec, list(inputs),
            sampling=SamplingConfig(temperature, top_k, top_p, seed),
            limits=GenerationLimits(max_length, tuple(stop or ())))
        return [{"condition": c, "text": r.text, "truncated": r.truncated,
                 "stopped": r.stopped_by} for c, r in zip(inputs, results)]

    def show(self, output: dict) -> str:
        mark = " [truncated at the maximum length]" if output["truncated"] else ""
        return f"{output['condition']}\t{output['text']}{mark}"

    def add_generate_flags(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--condition", metavar="C", help="the condition (e.g. a locale: tr_TR)")
        p.add_argument("--count", type=positive_int, metavar="N",
                       help="outputs to generate, one per line (1)")
        p.add_argument("--max-length", type=positive_generation_length, metavar="N",
                       help="symbols at most; reaching it is marked truncated (32)")
        add_sampling_flags(p)

    def generate(self, run_dir: Path, options: dict, *, loaded: tuple | None = None) -> int:
        """Stream ``count`` outputs for ``condition``, one per line; truncation is marked."""
        from rnnkit.tasks.loading import load
        model, codec = loaded or load(run_dir)
        if not options.get("condition"):
            raise RnnkitError(f"this run is a conditional generator: give --condition, one of "
                              f"{', '.join(codec[1])}")
        limits = GenerationLimits(options.get("max_length", 32), tuple(options.get("stop") or ()))
        seed = options.get("seed")
        for i in range(options.get("count", 1)):
            sampling = SamplingConfig(options.get("temperature", 0.8), options.get("top_k"),
                                      options.get("top_p"), None if seed is None else seed + i)
            result = stream_conditional(
                model, codec, options["condition"],
                lambda piece: (sys.stdout.write(piece), sys.stdout.flush()),
                sampling=sampling, limits=limits)
            sys.stdout.write(" [truncated at the maximum length]\n" if result.truncated
                             else "\n")
        return 0

    def add_evaluate_flags(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--classifier", metavar="RUN",
                       help="an rnnkit classifier run that scores generated texts")

    def evaluate(self, run_dir: Path, config: dict, options: dict) -> int:
        """The test NLL, new-sample share and classifier agreement, again."""
        from rnnkit.tasks.loading import load
        net, codec = load(run_dir)
        prepared = prepare(from_saved(CondGenDataConfig, config, "data", run_dir))
        print(condgen_eval.summary(condgen_eval.evaluate_condgen(
            prepared, net, codec, classifier=options.get("classifier"))))
        return 0
