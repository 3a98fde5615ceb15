"""Checkpointed, resumable training: what every run shares once its data and model exist
(:mod:`rnnkit.train.run` drives it).

A checkpoint is the weights (NT-ASGD's average once it has started: ``Trainer.averaged``) plus
``{**trainer.state_dict(), "data": batches.state_dict()}`` (optimizer moments, step, RNG, the
raw weights under averaging, and where the current pass over the batches stands), written
atomically every ``checkpoint_every`` steps, at the end and on Ctrl-C. Resuming rebuilds the
model from the run's ``config.json`` and the same data, checks that the data still gives that
model (same vocabulary, labels and sizes), then loads all of it: the resumed run draws the
batch an uninterrupted run would have drawn next.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Callable

from torch import nn

from rnnkit.data.padded import PaddedBatches
from rnnkit.errors import Interrupted, RnnkitError
from rnnkit.train.checkpoint import (clear_checkpoints, load_checkpoint_meta, load_resume_point,
                                     params_finite, save_checkpoint)
from rnnkit.train.distributed import World, any_process, gather
from rnnkit.train.loop import Trainer
from rnnkit.train.run_folder import CONFIG_FILE, METRICS_FILE, write_json
from rnnkit.train.signals import NAMES, StopRequest


def saved_settings(saved_model: dict, derived: tuple[str, ...]) -> dict:
    """A saved model config without the sizes the data decides (vocabulary, labels), which the
    job derives again so that :func:`restore` can check they still agree."""
    return {k: v for k, v in saved_model.items() if k not in derived}


def process_state(trainer: Trainer) -> dict:
    """What differs between data-parallel processes: their RNG draws and carried states."""
    state = trainer.state_dict()
    return {"rng": state["rng"], "carried_state": state["carried_state"]}


def restore(run_dir: Path, model: nn.Module, meta: dict, trainer: Trainer,
            batches: PaddedBatches, world: World = World()) -> None:
    """Load a saved run into a freshly built ``model``/``trainer``/``batches`` (in place).

    ``meta`` (model config and vocabularies, as rebuilt from today's data) must equal the one
    saved with the weights, or the data has changed and resuming would train another model.
    """
    if json.loads(json.dumps(meta, ensure_ascii=False)) != load_checkpoint_meta(run_dir):
        raise RnnkitError(f"the data of '{run_dir}' has changed since the run started (its "
                          "vocabulary, labels or sizes differ); resume needs the same data")
    state = load_resume_point(run_dir, model)
    if "data" not in state:
        raise RnnkitError(f"'{run_dir}' was saved without its data position, so it cannot be "
                          "resumed; train it again")
    saved_world = len(state.get("processes", [None]))
    if saved_world != world.size:
        raise RnnkitError(f"'{run_dir}' was trained by {saved_world} process(es); resume it "
                          f"with the same number (this is {world.size})")
    if world.parallel:
        state = {**state, **state["processes"][world.rank]}
    trainer.load_state_dict(state)
    batches.load_state_dict(state["data"])


def start_run(run_dir: Path, saved: dict | None, config: dict, meta: dict, model: nn.Module,
              trainer: Trainer, batches, files: dict, world: World = World()) -> None:
    """Continue the saved run (``saved``: its config.json) or start a fresh run folder.

    Resuming restores weights, trainer and batch position and keeps the saved config but for
    its ``train`` entry (``--steps`` may have grown); a fresh run writes ``config`` and the
    task's ``files`` (name -> JSON object), and drops an old metrics log.
    """
    if saved is not None:
        restore(run_dir, model, meta, trainer, batches, world)
        if trainer.step >= trainer.config.steps:
            raise RnnkitError(f"'{run_dir}' is already at step {trainer.step} of "
                              f"{trainer.config.steps}; give --steps N with N > {trainer.step} "
                              "to train it further")
        if world.main:
            write_json(run_dir / CONFIG_FILE, {**saved, "train": config["train"]})
        return
    if not world.main:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    clear_checkpoints(run_dir)   # an --overwrite killed early must never resume the old weights
    write_json(run_dir / CONFIG_FILE, config)
    for name, obj in files.items():
        write_json(run_dir / name, obj)
    (run_dir / METRICS_FILE).unlink(missing_ok=True)


def fit_with_checkpoints(run_dir: Path, model: nn.Module, trainer: Trainer, batches,
                         meta: dict, *, checkpoint_every: int = 0,
                         on_step: Callable[[dict], None] | None = None,
                         after_save: Callable[[], None] | None = None,
                         world: World = World(),
                         **fit_options) -> tuple[dict | None, float]:
    """``trainer.fit(batches, ...)`` with a checkpoint every ``checkpoint_every`` steps (0:
    none), at the end, and at the step boundary where SIGINT or SIGTERM stopped it (then
    :class:`~rnnkit.errors.Interrupted` names the resume command; exit status 130 or 143);
    ``after_save()`` runs after each checkpoint (a learning-curve plot, say). ``batches`` is
    anything with ``state_dict()``: PaddedBatches or a language model's StreamBatcher.

    Returns the last evaluation (or None) and the seconds spent in ``fit``.
    """
    # The batch position after the last finished step: on Ctrl-C the loop has already drawn
    # the next batch, which no step used, so the live position would skip it on resume.
    consumed = batches.state_dict()

    def checkpoint() -> None:
        processes = gather(process_state(trainer), world)    # a collective: every process
        if not world.main:
            return
        state = {**trainer.state_dict(), "data": consumed}     # the raw weights' state
        if world.parallel:
            state["processes"] = processes
        with trainer.averaged():                 # NT-ASGD's average, once it has started
            save_checkpoint(run_dir, model, state, meta)
        if after_save is not None:
            after_save()

    def step_done(metrics: dict) -> None:
        nonlocal consumed
        consumed = batches.state_dict()
        if on_step is not None:
            on_step(metrics)
        if checkpoint_every and trainer.step % checkpoint_every == 0 and not metrics["skipped"]:
            checkpoint()

    first, start = trainer.step, time.perf_counter()
    with StopRequest() as stop:
        stopping = False

        def should_stop() -> bool:
            nonlocal stopping
            stopping = any_process(stop.requested, world)    # every process stops together
            return stopping

        try:
            last = trainer.fit(batches, on_step=step_done, should_stop=should_stop, **fit_options)
        except KeyboardInterrupt:   # outside the main thread: the step may be cut in half
            if trainer.step > first and params_finite(model):
                checkpoint()
                raise Interrupted(f"interrupted at step {trainer.step}; checkpoint saved, "
                                  f"continue with: rnnkit train --resume {run_dir}",
                                  signal.SIGINT) from None
            raise Interrupted(f"interrupted at step {trainer.step}; nothing new to save",
                              signal.SIGINT) from None
        if stopping:
            signum = stop.signum or signal.SIGTERM
            why = f"stopped at step {trainer.step} ({NAMES[signum]})"
            if trainer.step > first and params_finite(model):
                checkpoint()
                raise Interrupted(f"{why}; checkpoint saved, continue with: rnnkit train "
                                  f"--resume {run_dir}", signum)
            raise Interrupted(f"{why}; nothing new to save", signum)
        seconds = time.perf_counter() - start
        checkpoint()
    return last, seconds
