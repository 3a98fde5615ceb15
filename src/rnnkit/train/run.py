"""Train or resume a run of any task: the one chain every task goes through.

    task.prepare(data config)          read, split and encode the data (no model yet)
      -> seed                           torch.manual_seed(train.seed): the weights' draw
      -> task.build(...)                model, batches, loss, what to save and evaluate
      -> setup.initialise()             a fresh run only: weights from elsewhere (word
                                        vectors, a language model run), which it then carries
      -> Trainer                        seeds every RNG again for the data and dropout draws
      -> start or restore the run       config.json, the task's files; or the checkpoint
      -> fit with checkpoints           every ``checkpoint_every`` steps, at the end, on Ctrl-C
      -> learning curve, gradient-flow figures, the task's test figures

A task is anything with the three methods of :class:`Trainable` (``rnnkit.tasks`` holds one per
kind of problem); the runner knows nothing about language models or classifiers. A resumed run
rebuilds the model from its ``config.json`` and the same data, checks that the data still gives
that model (the weights' metadata and the task's fingerprint of the data), and continues from
the checkpoint: with the same batches and RNG draws, it ends with the weights of a run that was
never stopped.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import STATELESS
from rnnkit.train.config import TrainConfig
from rnnkit.train.diagnostics import stateless_note, training_probe
from rnnkit.train.distributed import World, from_environment, leave, rank_seed
from rnnkit.train.diagnostics_plot import finish_probe
from rnnkit.train.loop import Trainer, loss_postfix
from rnnkit.train.metrics import MetricsLog, plot_learning_curve, read_metrics
from rnnkit.train.resumable import fit_with_checkpoints, saved_settings, start_run
from rnnkit.train.rng import seed_everything
from rnnkit.train.run_lock import LOCK_FILE, RunLock
from rnnkit.train.run_folder import CURVE_FILE, METRICS_FILE


@dataclass(frozen=True)
class RunSpec:
    """What to train: the task's data config, the model settings, and how to optimise."""

    data: Any                       # the task's frozen data config (a dataclass)
    model: dict                     # model settings; sizes the data decides are the task's
    train: TrainConfig              # optimiser, schedule, seed, precision
    epochs: float | None = None     # passes over the training batches (sets train.steps)
    options: dict = field(default_factory=dict)  # the task's other settings (in config.json)


@dataclass
class RunSetup:
    """What a task builds for the runner once its data is read."""

    model: nn.Module
    model_config: Any                # a dataclass, saved as config.json's "model"
    batches: Any                     # PaddedBatches or StreamBatcher (state_dict, load_state_dict)
    batches_per_epoch: int           # what ``RunSpec.epochs`` multiplies
    loss_fn: Callable                # loss(outputs, targets) -> scalar
    meta: dict                       # saved with the weights: all that loading them needs
    config: dict = field(default_factory=dict)   # more config.json entries (split, examples)
    files: dict = field(default_factory=dict)    # JSON files of a new run: name -> object
    fingerprint: dict = field(default_factory=dict)  # what a resume must find unchanged
    evaluate: Callable[[], dict] | None = None   # validation figures (None: no validation part)
    postfix: Callable = loss_postfix             # progress-bar fields
    on_step: Callable[[int], None] | None = None  # called with each finished step
    title: str = ""                  # the learning curve's title
    bpc: bool = False                # draw the curve in bits per character
    layers: list | None = None       # the model's parameters by depth, input side first
    #                                  (model.layer_groups()): discriminative rates, unfreezing
    initialise: Callable[[], None] | None = None  # starting weights from elsewhere, applied to
    #                                  a fresh run (a resumed one has them in its checkpoint)
    penalty: Callable[[], Any] | None = None  # the model's extra loss term of the training
    #                                  forward just run (a scalar tensor or None): AR/TAR


@dataclass
class RunResult:
    run_dir: Path
    steps: int                       # the run's step count now
    trained: int                     # steps trained by this call (fewer after a resume)
    seconds: float                   # wall time of those steps, evaluation included
    parameters: int
    evaluation: dict | None          # the last validation figures
    test: dict | None                # the task's test figures, scored at the end
    main: bool = True                # False in data-parallel processes other than process 0


class Trainable(Protocol):
    """What the runner needs of a task (:class:`rnnkit.tasks.base.Task` has all of it)."""

    name: str                        # config.json's "task"
    derived: tuple[str, ...]         # model-config fields the data decides (vocabulary, labels)

    def prepare(self, data: Any) -> Any: ...

    def build(self, prepared: Any, model: dict, spec: RunSpec) -> RunSetup: ...

    def test(self, run_dir: Path, prepared: Any, setup: RunSetup, spec: RunSpec, step: int
             ) -> dict | None: ...


def train_run(task: Trainable, run_dir: str | Path, spec: RunSpec, *, saved: dict | None = None,
              progress: bool = True, checkpoint_every: int = 0,
              diagnose_every: int | None = None) -> RunResult:
    """Train ``spec`` into ``run_dir``, or continue it (``saved``: the run's config.json, whose
    model settings then replace ``spec.model``). ``checkpoint_every`` N saves every N steps
    (0: only at the end and on Ctrl-C); ``diagnose_every`` N records the gradient flow every N
    steps (``rnnkit.train.diagnostics``)."""
    run_dir = Path(run_dir)
    world = from_environment()
    try:
        return _run(task, run_dir, spec, world, saved, progress, checkpoint_every,
                    diagnose_every)
    finally:
        leave(world)


def _run(task: Trainable, run_dir: Path, spec: RunSpec, world: World, saved: dict | None,
         progress: bool, checkpoint_every: int, diagnose_every: int | None) -> RunResult:
    if not world.main:
        return _train(task, run_dir, spec, world, saved, progress, checkpoint_every,
                      diagnose_every)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with RunLock(run_dir):         # one rnnkit process per run folder
            return _train(task, run_dir, spec, world, saved, progress, checkpoint_every,
                          diagnose_every)
    except BaseException:
        if created and [p.name for p in run_dir.iterdir()] == [LOCK_FILE]:
            shutil.rmtree(run_dir, ignore_errors=True)   # refused before writing anything
        raise


def _train(task: Trainable, run_dir: Path, spec: RunSpec, world: World, saved: dict | None,
           progress: bool, checkpoint_every: int, diagnose_every: int | None) -> RunResult:
    prepared = task.prepare(spec.data)
    model_settings = spec.model if saved is None else saved_settings(saved["model"], task.derived)
    torch.manual_seed(spec.train.seed)
    setup = task.build(prepared, model_settings, spec)
    train = spec.train if spec.epochs is None else \
        spec.train.for_epochs(spec.epochs, setup.batches_per_epoch)
    trained = setup.model
    if world.parallel:                 # each process its shard; gradients averaged by DDP
        setup.batches.shard(world.rank, world.size)
        trained = DistributedDataParallel(setup.model, find_unused_parameters=True)
    if saved is None and setup.initialise is not None:
        setup.initialise()
    trainer = Trainer(trained, train, setup.loss_fn, layers=setup.layers, penalty=setup.penalty)
    if world.parallel:
        seed_everything(rank_seed(train.seed, world.rank))
    if saved is not None and saved.get("fingerprint", {}) != setup.fingerprint:
        raise RnnkitError(f"the data of '{run_dir}' has changed since the run started; resume "
                          "needs the same data")
    config = {"task": task.name, "data": dataclasses.asdict(spec.data),
              "model": dataclasses.asdict(setup.model_config),
              "train": dataclasses.asdict(train), "options": spec.options,
              "checkpoint_every": checkpoint_every, "fingerprint": setup.fingerprint,
              "processes": world.size, **setup.config}
    start_run(run_dir, saved, config, setup.meta, setup.model, trainer, setup.batches,
              setup.files, world)

    def plot_curve() -> None:
        if (run_dir / METRICS_FILE).is_file():
            plot_learning_curve(read_metrics(run_dir / METRICS_FILE), run_dir / CURVE_FILE,
                                bpc=setup.bpc, title=setup.title)

    cell = getattr(setup.model_config, "cell", "")
    if diagnose_every is not None and cell in STATELESS:
        print(f"rnnkit: note: {stateless_note(cell)}", file=sys.stderr)
    probe = training_probe(setup.model, setup.loss_fn, run_dir, diagnose_every,
                           resume=saved is not None) if world.main else None
    first = trainer.step
    on_step = None if setup.on_step is None else (lambda metrics: setup.on_step(trainer.step))
    last, seconds = fit_with_checkpoints(
        run_dir, setup.model, trainer, setup.batches, setup.meta,
        checkpoint_every=checkpoint_every, after_save=plot_curve, on_step=on_step,
        evaluate=setup.evaluate if world.main else None,
        log=MetricsLog(run_dir / METRICS_FILE) if world.main else None, postfix=setup.postfix,
        progress=progress and world.main, probe=probe, world=world)
    if not world.main:                 # process 0 draws, tests and reports
        return RunResult(run_dir, trainer.step, trainer.step - first, seconds, 0, last, None,
                         main=False)
    finish_probe(probe, run_dir, cell=cell, title=setup.title)
    with trainer.averaged():                 # NT-ASGD's average, as saved
        test = task.test(run_dir, prepared, setup, spec, trainer.step)
    return RunResult(run_dir, trainer.step, trainer.step - first, seconds,
                     sum(p.numel() for p in setup.model.parameters()), last, test)
