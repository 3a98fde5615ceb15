"""The classification and tagging job: data -> codec -> padded batches -> Trainer -> run folder.

Training is full BPTT over independent, right-padded sequences (``SequenceBatch``, each batch
from a zero state, ``lengths`` passed to the encoder). The run folder is the language-model
job's (:mod:`rnnkit.train.lm_job`) plus what a classifier needs::

    config.json        task, data, model and training settings, and the split used
    codec.json         vocabulary, label set, normalisation (what turns examples into numbers)
    split.json         the test indices of a seeded split of one file (when there is one)
    model.safetensors  weights, with the model config and the codec in the metadata
    metrics.jsonl      training loss and gradient norm; validation loss and accuracy
    learning_curve.png loss against step, and the gradient norm

``rnnkit evaluate`` adds evaluation.json and confusion_matrix.png (:mod:`rnnkit.train.task_eval`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.codec import Codec, SeriesCodec
from rnnkit.data.padded import IGNORE, PaddedBatches
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.tagger import Tagger, TaggerConfig
from rnnkit.train.config import TrainConfig
from rnnkit.train.diagnostics import training_probe
from rnnkit.train.diagnostics_plot import finish_probe
from rnnkit.train.loop import Trainer, evaluate_loss
from rnnkit.train.metrics import MetricsLog, plot_learning_curve, read_metrics
from rnnkit.train.resumable import fit_with_checkpoints, saved_settings, start_run, write_json
from rnnkit.train.task_data import TaskData, TaskDataConfig, prepare

CODEC_FILE = "codec.json"
SPLIT_FILE = "split.json"


def build_model(task: str, codec: Codec, overrides: dict) -> tuple[nn.Module, object]:
    """The model of ``task`` sized for ``codec`` (vocabulary, labels, channels)."""
    try:
        if task == "tag":
            config = TaggerConfig(num_tags=len(codec.labels), vocab_size=codec.words.size,
                                  char_vocab_size=codec.chars.size, **overrides)
            return Tagger(config), config
        if isinstance(codec, SeriesCodec):
            overrides = {**overrides, "vocab_size": 0, "input_size": codec.features}
        else:
            overrides = {**overrides, "vocab_size": codec.vocab.size}
        config = ClassifierConfig(num_classes=len(codec.labels), **overrides)
        return SequenceClassifier(config), config
    except TypeError as e:
        raise RnnkitError(f"a model setting does not apply to --task {task} ({e})") from None


def model_from_config(task: str, model: dict) -> nn.Module:
    """Rebuild a saved model (``config.json``'s or the weights' ``model`` entry)."""
    try:
        return Tagger(TaggerConfig(**model)) if task == "tag" else \
            SequenceClassifier(ClassifierConfig(**model))
    except TypeError as e:
        raise RnnkitError(f"saved model config does not fit this version ({e})") from None


def classify_loss(weight: Tensor | None):
    """Mean cross-entropy of logits (B, K) against labels (B,), optionally class-weighted."""
    def loss(logits: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(logits, targets, weight=weight)
    return loss


def tag_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over real tokens: logits (B, T, K), tags (B, T), padding IGNORE."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def balanced_weights(labels: list[int], num_classes: int) -> Tensor:
    """``n / (K n_k)`` per class (King & Zeng 2001; scikit-learn's "balanced")."""
    counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float64)
    return torch.tensor(len(labels) / (num_classes * np.maximum(counts, 1)),
                        dtype=torch.float32)


def task_loss(data_config: TaskDataConfig, data: TaskData):
    if data_config.task == "tag":
        return tag_loss
    weight = balanced_weights(data.train[1], len(data.codec.labels)) \
        if data_config.class_weights else None
    return classify_loss(weight)


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


@dataclass
class TaskResult:
    run_dir: Path
    val_accuracy: float | None   # None when there is no validation part
    steps: int
    seconds: float
    parameters: int


# Model sizes the data decides; a resumed run derives them again and checks they agree.
DERIVED = ("num_classes", "num_tags", "vocab_size", "char_vocab_size")


def train_task(run_dir: str | Path, data_config: TaskDataConfig, model_overrides: dict,
               train_config: TrainConfig, *, epochs: float | None = None,
               progress: bool = True, diagnose_every: int | None = None,
               checkpoint_every: int = 0, saved: dict | None = None) -> TaskResult:
    """Train a classifier or tagger into ``run_dir``; ``epochs`` sets the number of steps;
    ``diagnose_every`` records the gradient flow every N steps (``rnnkit.train.diagnostics``);
    ``checkpoint_every`` saves a resumable checkpoint every N steps; ``saved`` (the run's
    config.json) continues the run in ``run_dir`` with its model (``model_overrides`` unused)."""
    run_dir = Path(run_dir)
    data = prepare(data_config)
    if saved is not None:
        model_overrides = saved_settings(saved["model"], DERIVED)
    torch.manual_seed(train_config.seed)
    model, model_config = build_model(data_config.task, data.codec, model_overrides)
    batches = PaddedBatches(*data.train, data_config.batch_size, seed=train_config.seed)
    if epochs is not None:
        train_config = train_config.for_epochs(epochs, len(batches))
    loss_fn = task_loss(data_config, data)
    trainer = Trainer(model, train_config, loss_fn)
    meta = {"task": data_config.task, "model": dataclasses.asdict(model_config),
            "codec": data.codec.to_dict()}

    start_run(run_dir, saved, {
        "task": data_config.task, "data": dataclasses.asdict(data_config),
        "model": dataclasses.asdict(model_config), "train": dataclasses.asdict(train_config),
        "split": data.dataset.split, "kind": data.dataset.kind,
        "examples": {"train": len(data.train[0]), "validation": len(data.val[0]),
                     "test": len(data.dataset.test)}}, meta, model, trainer, batches)
    if saved is None:
        write_json(run_dir / CODEC_FILE, data.codec.to_dict())
        if data.dataset.test_indices:
            write_json(run_dir / SPLIT_FILE, {"split": data.dataset.split,
                                              "test_indices": list(data.dataset.test_indices)})

    evaluate = None
    if data.val[0]:
        val_batches = PaddedBatches(*data.val, 64, shuffle=False)

        def evaluate() -> dict:
            result = evaluate_loss(model, loss_fn, val_batches)
            return {**result, "accuracy": accuracy_of(model, val_batches)}

    def postfix(train: dict, evaluation: dict | None) -> dict[str, str]:
        fields = {"loss": f"{train['loss_avg']:.3f}"}
        if evaluation is not None:
            fields["val_acc"] = f"{evaluation['accuracy']:.3f}"
        return fields

    probe = training_probe(model, loss_fn, run_dir, diagnose_every)
    last, seconds = fit_with_checkpoints(
        run_dir, model, trainer, batches, meta, checkpoint_every=checkpoint_every,
        evaluate=evaluate, log=MetricsLog(run_dir / "metrics.jsonl"), postfix=postfix,
        progress=progress, probe=probe)
    plot_learning_curve(read_metrics(run_dir / "metrics.jsonl"), run_dir / "learning_curve.png",
                        title=f"{model_config.cell} {data_config.task}: {data_config.data}")
    finish_probe(probe, run_dir, cell=model_config.cell,
                 title=f"{model_config.cell} {data_config.task}")
    return TaskResult(run_dir, last["accuracy"] if last else None, trainer.step, seconds,
                      sum(p.numel() for p in model.parameters()))
