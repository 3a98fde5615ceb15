"""What classification and tagging share: one data pipeline (:mod:`rnnkit.train.task_data`),
full BPTT over right-padded independent sequences, accuracy on a validation cut, test figures
with a confusion matrix (:mod:`rnnkit.train.task_eval`), and ``rnnkit diagnose``.

The run folder adds to every run's::

    codec.json         vocabulary, label set, normalisation (what turns examples into numbers)
    split.json         the test indices of a seeded split of one file (when there is one)
    evaluation.json    test figures; confusion_matrix.png
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from torch import nn

from rnnkit.data.codec import codec_from_dict
from rnnkit.data.padded import IGNORE, PaddedBatches, pad_batch
from rnnkit.errors import RnnkitError
from rnnkit.tasks.base import Task, epochs_of, train_config
from rnnkit.tasks.flags import (SPLIT_SEED, add_diagnose_flag, add_positional_flag,
                                add_split_seed_flag, add_test_split_flags, positive_int)
from rnnkit.tasks.transfer import (add_transfer_flags, initialiser, transfer_options,
                                   vocabulary_of)
from rnnkit.train.classification_metrics import format_report
from rnnkit.train.loop import evaluate_loss
from rnnkit.train.run import RunResult, RunSetup, RunSpec
from rnnkit.train.run_folder import read_run_config
from rnnkit.train.task_data import TaskData, TaskDataConfig, encode_split, prepare
from rnnkit.train.task_eval import CONFUSION_FILE, EVALUATION_FILE, evaluate_task, \
    evaluation_split, evaluation_suffix

CODEC_FILE = "codec.json"
SPLIT_FILE = "split.json"
# Used where a flag is not given: sized for minutes on two CPU cores.
DEFAULTS = dict(cell="lstm", embed=64, hidden=128, layers=1, dropout=0.2, batch_size=32,
                lr=3e-3, clip=1.0, warmup=50, weight_decay=0.01, seed=0, val_fraction=0.1,
                epochs=10.0, eval_every=0, positional="sinusoidal", test_fraction=0.2,
                max_len=256)


def accuracy_of(model: nn.Module, batches) -> float:
    """Share of correct predictions (per sequence, or per real token for tagging)."""
    was = model.training
    model.eval()
    right = total = 0
    with torch.no_grad():
        for b in batches:
            logits, _ = model(b.inputs, None, lengths=b.lengths)
            keep = b.targets != IGNORE
            right += int(((logits.argmax(-1) == b.targets) & keep).sum())
            total += int(keep.sum())
    model.train(was)
    return right / max(total, 1)


def accuracy_postfix(train: dict, evaluation: dict | None) -> dict[str, str]:
    fields = {"loss": f"{train['loss_avg']:.3f}"}
    if evaluation is not None:
        fields["val_acc"] = f"{evaluation['accuracy']:.3f}"
    return fields


# What the runs of an ensemble must share: the same examples, split and validation cut.
SAME_DATA = ("data", "test_data", "test_fraction", "split_seed", "text_column", "label_column",
             "encoding", "max_len")


def ensemble_runs(config: dict, runs: list[str] | None, task: str) -> list[str]:
    """The ``--ensemble`` runs, checked to be ``task`` runs on the same data and split."""
    for run in runs or []:
        other = read_run_config(run)
        if other.get("task") != task:
            raise RnnkitError(f"'{run}' is a {other.get('task')!r} run; an ensemble of {task} "
                              f"runs needs {task} runs")
        differ = [k for k in SAME_DATA if other["data"].get(k) != config["data"].get(k)]
        if differ:
            raise RnnkitError(f"'{run}' was trained on other data or another split "
                              f"({', '.join(differ)} differ); an ensemble needs the same")
    return list(runs or [])


class LabelledTask(Task):
    """A task whose examples carry labels: one per sequence (classify) or per token (tag)."""

    data_class = TaskDataConfig
    can_diagnose = True
    unit = "examples"                 # what the accuracy counts

    def add_train_flags(self, p: argparse.ArgumentParser) -> None:
        add_test_split_flags(p)
        add_split_seed_flag(p)
        p.add_argument("--max-len", type=positive_int, metavar="T",
                       help="steps kept per sequence; longer ones are cut, with a warning")
        p.add_argument("--unidirectional", action="store_true",
                       help="read sequences left to right only (default: bidirectional)")
        add_transfer_flags(p)
        add_positional_flag(p)
        add_diagnose_flag(p)

    def data_config(self, s: dict, **fields) -> TaskDataConfig:
        if "data" not in s:
            raise RnnkitError(f"rnnkit train {self.name} needs --data builtin:NAME or a file "
                              "(`rnnkit datasets` lists the built-in names)")
        return TaskDataConfig(
            task=self.name, data=s["data"], test_data=s.get("test_data"),
            test_fraction=s["test_fraction"], split_seed=s.get("split_seed", SPLIT_SEED),
            val_fraction=s["val_fraction"], max_len=s["max_len"], batch_size=s["batch_size"],
            vocab_from=s.get("init_from"), **fields)

    def spec_of(self, s: dict, data: TaskDataConfig, model: dict) -> RunSpec:
        return RunSpec(data, model, train_config(s), epochs_of(s), transfer_options(s))

    def resume_spec(self, saved: dict, run_dir: Path, steps: int | None) -> RunSpec:
        """A run whose vocabulary came from a language model resumes with the codec it saved,
        so it needs that run no more."""
        spec = super().resume_spec(saved, run_dir, steps)
        if spec.data.vocab_from is None:
            return spec
        return dataclasses.replace(spec, data=dataclasses.replace(spec.data,
                                                                  vocab_from=str(run_dir)))

    def prepare(self, data: TaskDataConfig) -> TaskData:
        return prepare(data, None if data.vocab_from is None else
                       vocabulary_of(data.vocab_from, data, self.name))

    def build(self, prepared: TaskData, model_settings: dict, spec: RunSpec) -> RunSetup:
        model, config = self.make_model(prepared.codec, model_settings)
        loss_fn = self.loss_of(spec.data, prepared)
        data = prepared.dataset
        batches = PaddedBatches(*prepared.train, spec.data.batch_size, seed=spec.train.seed)
        evaluate = None
        if prepared.val[0]:
            val_batches = PaddedBatches(*prepared.val, 64, shuffle=False)

            def evaluate() -> dict:
                result = evaluate_loss(model, loss_fn, val_batches)
                return {**result, "accuracy": accuracy_of(model, val_batches)}

        files = {CODEC_FILE: prepared.codec.to_dict()}
        if data.test_indices:
            files[SPLIT_FILE] = {"split": data.split, "test_indices": list(data.test_indices)}
        return RunSetup(
            model, config, batches, len(batches), loss_fn,
            meta={"task": self.name, "model": dataclasses.asdict(config),
                  "codec": prepared.codec.to_dict()},
            config={"split": data.split, "kind": data.kind,
                    "examples": {"train": len(prepared.train[0]),
                                 "validation": len(prepared.val[0]), "test": len(data.test)}},
            files=files, evaluate=evaluate, postfix=accuracy_postfix,
            title=f"{config.cell} {self.name}: {spec.data.data}", layers=model.layer_groups(),
            initialise=initialiser(spec.options, model, prepared.codec,
                                   embed_size=self.embed_size(config)))

    def test(self, run_dir: Path, prepared, setup: RunSetup, spec: RunSpec, step: int) -> dict:
        from rnnkit.tasks.loading import load
        model, codec = load(run_dir)
        return evaluate_task(run_dir, model, codec, read_run_config(run_dir))

    def report(self, result: RunResult, spec: RunSpec) -> int:
        minutes, seconds = divmod(result.seconds, 60)
        val = f"validation accuracy {result.evaluation['accuracy']:.4f}; " \
            if result.evaluation else ""
        print(f"trained {result.parameters:,} parameters for {result.steps} steps in "
              f"{int(minutes)} min {seconds:.0f} s; {val}run folder: {result.run_dir}")
        test = result.test
        print(f"test: accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f} "
              f"({test['count']:,} {self.unit})")
        return 0

    def from_meta(self, meta: dict):
        try:
            return self.model_of(meta["model"]), codec_from_dict(meta["codec"])
        except (TypeError, KeyError) as e:
            raise RnnkitError(f"the model config is not one this version knows ({e})") from None

    def add_evaluate_flags(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", metavar="FILE", help="score this file (same format) instead "
                       "of the run's test split")
        p.add_argument("--ensemble", nargs="+", metavar="RUN2",
                       help="score RUN with these runs as one model: their class probabilities "
                            "averaged (same data, split and labels); evaluation_ensemble.json")
        p.add_argument("--validation", action="store_true",
                       help="score the run's validation cut instead of its test split (where "
                            "settings are chosen); evaluation_validation.json")

    def evaluate(self, run_dir: Path, config: dict, options: dict) -> int:
        from rnnkit.tasks.loading import load
        model, codec = load(run_dir)
        others = [load(other) for other in ensemble_runs(config, options.get("ensemble"),
                                                          self.name)]
        if options.get("validation") and options.get("data"):
            raise RnnkitError("--validation scores the run's own validation cut; drop --data")
        report = evaluate_task(run_dir, model, codec, config, options.get("data"), others,
                               part="validation" if options.get("validation") else "test",
                               logit_adjust=options.get("logit_adjust", 0.0))
        if others:
            print(f"an ensemble of {len(others) + 1} runs (probabilities averaged)")
        if report.get("logit_adjust"):
            print(f"logits adjusted by -{report['logit_adjust']:g} log(training label prior)")
        print(f"{report['data']}: accuracy {report['accuracy']:.4f}, macro-F1 "
              f"{report['macro_f1']:.4f} ({report['count']:,} {self.unit})")
        if report.get("unseen_words") is not None:
            acc = report["unseen_word_accuracy"]
            print(f"words unseen in training: {report['unseen_words']:,}, accuracy "
                  f"{'n/a' if acc is None else f'{acc:.4f}'}")
        print(format_report(report))
        suffix = evaluation_suffix(bool(others), "validation" if options.get("validation")
                                   else "test")
        print(f"wrote {run_dir}/{EVALUATION_FILE.replace('.json', suffix + '.json')} and "
              f"{run_dir}/{CONFUSION_FILE.replace('.png', suffix + '.png')}")
        return 0

    def diagnosis_batch(self, run_dir, config, model, codec, batch_size, options):
        """The first ``batch_size`` examples of the run's test split, right-padded."""
        where, split = evaluation_split(config, None)
        inputs, targets = encode_split(codec, split, what=f"'{where}'")
        if not inputs:
            raise RnnkitError(f"'{run_dir}' has no test examples to diagnose on")
        batch = pad_batch(inputs[:batch_size], targets[:batch_size])
        return batch, self.diagnosis_loss(), self.what
