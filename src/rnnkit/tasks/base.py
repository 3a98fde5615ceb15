"""The Task protocol: everything rnnkit does with one kind of problem, in one object.

A task (``rnnkit.tasks.lm``, ``classify``, ``tag``, ``seq2seq``, ``condgen``) holds

* its typed data config (``data_class``) and the defaults of its flags (``defaults``);
* its command-line flags (``add_train_flags``, ``add_predict_flags``, ...), so that each
  ``rnnkit train TASK`` / ``predict`` / ``evaluate`` offers exactly the flags that apply;
* how a run is trained: ``spec`` (flags -> :class:`~rnnkit.train.run.RunSpec`), ``prepare``
  (read and encode the data), ``build`` (model, batches, loss, validation:
  :class:`~rnnkit.train.run.RunSetup`), ``test`` (its test figures at the end) and ``report``;
* how a trained run is used: ``from_meta`` (rebuild the model and its codec from the weights'
  metadata), ``predict`` (inputs -> JSON-able outputs: the one call the CLI and the HTTP server
  share), ``evaluate`` (score a split again) and, where it applies, ``generate`` and
  ``diagnosis_batch``.

``rnnkit.train.run.train_run`` trains any task; ``rnnkit.tasks.TASKS`` is the registry. A new
task is one file with a subclass of :class:`Task` and one line in the registry.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import ENCODERS
from rnnkit.train.config import TrainConfig
from rnnkit.train.run import RunResult, RunSetup, RunSpec
from rnnkit.train.run_folder import from_saved


class Task:
    """Base class of the tasks; the methods that raise are the ones every task must give."""

    name: str = ""                    # config.json's "task", the subcommand's name
    help: str = ""                    # one line for ``rnnkit train --help``
    data_class: type = object         # the task's frozen data config
    derived: tuple[str, ...] = ()     # model-config fields the data decides
    defaults: dict = {}               # train flags not given take these values
    checkpoint_every: int = 0         # default steps between checkpoints (0: end and Ctrl-C)
    can_diagnose: bool = False        # takes --diagnose-every and ``rnnkit diagnose``
    can_generate: bool = False        # ``rnnkit generate`` applies
    takes_inputs: bool = True         # ``rnnkit predict RUN INPUT...`` needs INPUTs (False: the
    #                                   task's own flags can name them, as forecast's --series)
    served_inputs: str = "texts"      # what /invocations takes: "texts" (a text, or a tagger's
    #                                   tokens) or "series" (objects; predict's files never)
    cells: tuple[str, ...] = ENCODERS  # what --cell offers

    # -- training --------------------------------------------------------------------------

    def add_train_flags(self, p: argparse.ArgumentParser) -> None:
        """The task's own ``rnnkit train TASK`` flags (the shared ones are added for it)."""

    def spec(self, s: dict) -> RunSpec:
        """The run that the settings ``s`` ask for (flags given, else ``defaults``)."""
        raise NotImplementedError

    def resume_spec(self, saved: dict, run_dir: Path, steps: int | None) -> RunSpec:
        """The saved run's spec (``config.json``), with ``steps`` in place of its own."""
        train = from_saved(TrainConfig, saved, "train", run_dir,
                           betas=tuple(saved.get("train", {}).get("betas", TrainConfig.betas)),
                           **({} if steps is None else {"steps": steps}))
        return RunSpec(from_saved(self.data_class, saved, "data", run_dir), {}, train,
                       options=dict(saved.get("options", {})))

    def prepare(self, data: Any) -> Any:
        raise NotImplementedError

    def build(self, prepared: Any, model: dict, spec: RunSpec) -> RunSetup:
        raise NotImplementedError

    def test(self, run_dir: Path, prepared: Any, setup: RunSetup, spec: RunSpec,
             step: int) -> dict | None:
        """Test figures scored once at the end of training, at ``step`` (None: none)."""
        return None

    def report(self, result: RunResult, spec: RunSpec) -> int:
        """Print what the run reached; the exit status."""
        minutes, seconds = divmod(result.seconds, 60)
        print(f"trained {result.parameters:,} parameters for {result.steps} steps in "
              f"{int(minutes)} min {seconds:.0f} s; run folder: {result.run_dir}")
        return 0

    def default_out(self, s: dict) -> Path:
        return Path(f"runs/{self.name}-{time.strftime('%Y%m%d-%H%M%S')}")

    # -- using a trained run ----------------------------------------------------------------

    def from_meta(self, meta: dict) -> tuple[nn.Module, Any]:
        """The untrained model and its codec (tokenizer, vocabularies, labels) from the
        weights' metadata; ``rnnkit.tasks.load`` then loads the weights."""
        raise NotImplementedError

    def add_predict_flags(self, p: argparse.ArgumentParser) -> None:
        """``rnnkit predict RUN ...`` flags of this task's runs."""

    def read_inputs(self, texts: list[str], codec: Any) -> list:
        """The command line's inputs as ``predict`` takes them (texts, by default)."""
        return texts

    def predict(self, model: nn.Module, codec: Any, inputs: list, **options) -> list[dict]:
        """One JSON-able output per input: the call the CLI and the server share."""
        raise NotImplementedError

    def show(self, output: dict) -> str:
        """One output of ``predict`` as the line ``rnnkit predict`` prints."""
        raise NotImplementedError

    def add_evaluate_flags(self, p: argparse.ArgumentParser) -> None:
        """``rnnkit evaluate RUN ...`` flags of this task's runs."""

    def evaluate(self, run_dir: Path, config: dict, options: dict) -> int:
        """Score the run again (its test split by default) and print the figures."""
        raise NotImplementedError

    def add_generate_flags(self, p: argparse.ArgumentParser) -> None:
        """``rnnkit generate RUN ...`` flags (tasks with ``can_generate``)."""

    def generate(self, run_dir: Path, options: dict, *, loaded: tuple | None = None) -> int:
        """Stream generated text; ``loaded`` is (model, codec) from another backend (the
        onnxruntime one), else the run is loaded from ``run_dir``."""
        raise RnnkitError(f"rnnkit generate needs a language model or a conditional generator; "
                          f"'{run_dir}' is a {self.name} run (use rnnkit predict)")

    def portable_graphs(self, model: nn.Module) -> list:
        """The graphs ``rnnkit export`` writes of this task's model: a list of
        :class:`rnnkit.models.portable.Graph`."""
        raise RnnkitError(f"rnnkit export covers lm, classify, tag and seq2seq runs; this is a "
                          f"{self.name} run")

    def add_diagnose_flags(self, p: argparse.ArgumentParser) -> None:
        """``rnnkit diagnose RUN ...`` flags beyond --batch-size (tasks with ``can_diagnose``)."""

    def diagnosis_batch(self, run_dir: Path, config: dict, model: nn.Module, codec: Any,
                        batch_size: int, options: dict) -> tuple[Any, Any, str]:
        """(batch, loss function, what the model is) for ``rnnkit diagnose``."""
        raise RnnkitError(f"rnnkit diagnose reads lm, classify and tag runs; '{run_dir}' is a "
                          f"{self.name} run")


def train_config(s: dict, **extra) -> TrainConfig:
    """The TrainConfig of the settings ``s`` (flags given, else the task's defaults)."""
    return TrainConfig(
        steps=s.get("steps") or 1, lr=s["lr"], weight_decay=s["weight_decay"],
        warmup_steps=s["warmup"], clip_norm=None if s.get("no_clip") else s["clip"],
        eval_every=s.get("eval_every", 0), seed=s["seed"],
        min_lr_ratio=s.get("min_lr_ratio", TrainConfig.min_lr_ratio),
        precision=s.get("precision", "fp32"), optimizer=s.get("optimizer", "adamw"),
        layer_lr_decay=s.get("layer_lr_decay", TrainConfig.layer_lr_decay),
        unfreeze_every=s.get("unfreeze_every", TrainConfig.unfreeze_every), **extra)


def epochs_of(s: dict) -> float | None:
    """``--epochs``, or None when the run's length is ``--steps`` (the command line keeps only
    the one given, or the task's default)."""
    return s.get("epochs")
