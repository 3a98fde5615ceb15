"""The conditional-generation job: (text, condition) pairs -> ConditionalGenerator -> run folder.

    load_dataset(data)            names with their locale (builtin:names) or a CSV's text/label
      -> validation cut           stratified by condition, from the training part only
      -> SymbolCodec (chars) and the condition set, fitted on the training part
      -> packed examples          inputs [k, <s>, y_1..y_n] (n + 2), targets [y_1..y_n, <s>]
      -> Trainer (full BPTT per padded batch) -> run folder

The run folder is the classification job's (``config.json``, ``model.safetensors`` whose
metadata holds the model config, the symbols and the conditions, ``metrics.jsonl``,
``learning_curve.png``); the held-out test part is only read by ``rnnkit evaluate``
(:mod:`rnnkit.infer.condgen_eval`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.datasets import Split, load_dataset, stratified_indices
from rnnkit.data.padded import IGNORE, PaddedBatches
from rnnkit.data.symbols import BOUNDARY_ID, SymbolCodec
from rnnkit.data.vocab import LabelSet
from rnnkit.errors import RnnkitError
from rnnkit.models.conditional import ConditionalConfig, ConditionalGenerator
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer, evaluate_loss
from rnnkit.train.metrics import MetricsLog, plot_learning_curve, read_metrics
from rnnkit.train.resumable import fit_with_checkpoints, saved_settings, start_run


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


def seq_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy per real target symbol: logits (B, T, V), targets (B, T) with IGNORE."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


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


def prepare(config: CondGenDataConfig) -> CondGenData:
    dataset = load_dataset(config.data, text_column=config.text_column,
                           label_column=config.label_column,
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
    return CondGenData(train, val, dataset.test, dataset.split, codec, conditions)


@dataclass
class CondGenResult:
    run_dir: Path
    val_nll: float | None      # nats per symbol (end symbol included) on the validation cut
    steps: int
    seconds: float
    parameters: int


# Model sizes the data decides; a resumed run derives them again and checks they agree.
DERIVED = ("vocab_size", "num_conditions")


def train_condgen(run_dir: str | Path, data_config: CondGenDataConfig, model_overrides: dict,
                  train_config: TrainConfig, *, epochs: float | None = None,
                  progress: bool = True, checkpoint_every: int = 0,
                  saved: dict | None = None) -> CondGenResult:
    """Train a conditional generator into ``run_dir``; ``saved`` (the run's config.json)
    continues the run in ``run_dir`` with its model."""
    run_dir = Path(run_dir)
    data = prepare(data_config)
    if saved is not None:
        model_overrides = saved_settings(saved["model"], DERIVED)
    torch.manual_seed(train_config.seed)
    try:
        config = ConditionalConfig(vocab_size=data.codec.size,
                                   num_conditions=len(data.conditions), **model_overrides)
    except TypeError as e:
        raise RnnkitError(f"a model setting does not apply to --task condgen ({e})") from None
    model = ConditionalGenerator(config)
    batches = PaddedBatches(*encode_pairs(data.codec, data.conditions, data.train),
                            data_config.batch_size, seed=train_config.seed)
    if epochs is not None:
        train_config = train_config.for_epochs(epochs, len(batches))
    trainer = Trainer(model, train_config, seq_loss)
    meta = {"task": "condgen", "model": dataclasses.asdict(config),
            "codec": data.codec.to_dict(), "conditions": list(data.conditions.labels)}
    start_run(run_dir, saved, {
        "task": "condgen", "data": dataclasses.asdict(data_config),
        "model": dataclasses.asdict(config), "train": dataclasses.asdict(train_config),
        "split": data.split, "kind": "text",
        "examples": {"train": len(data.train), "validation": len(data.val),
                     "test": len(data.test)}}, meta, model, trainer, batches)
    evaluate = None
    if len(data.val):
        val_batches = PaddedBatches(*encode_pairs(data.codec, data.conditions, data.val), 128,
                                    shuffle=False)

        def evaluate() -> dict:
            return evaluate_loss(model, seq_loss, val_batches)

    last, seconds = fit_with_checkpoints(
        run_dir, model, trainer, batches, meta, checkpoint_every=checkpoint_every,
        evaluate=evaluate, log=MetricsLog(run_dir / "metrics.jsonl"), progress=progress)
    plot_learning_curve(read_metrics(run_dir / "metrics.jsonl"), run_dir / "learning_curve.png",
                        title=f"{config.cell} condgen: {data_config.data}")
    return CondGenResult(run_dir, last["loss"] if last else None, trainer.step, seconds,
                         sum(p.numel() for p in model.parameters()))
