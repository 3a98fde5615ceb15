"""The runs a server serves: each loaded once, named, and described for ``GET /v1/models``.

Any task's run can be served (``/invocations`` calls its ``Task.predict``); a language model
also gets a :class:`~rnnkit.serve.engine.Decoder` for ``/v1/generate`` and sessions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.export.folder import MANIFEST
from rnnkit.export.runtime import PortableModel, load_portable
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.engine import Decoder
from rnnkit.tasks import Task, load, task_named
from rnnkit.train.checkpoint import MODEL_FILE
from rnnkit.train.run_folder import read_run_config

MODEL_DIR_ENV = "RNNKIT_MODEL_DIR"      # runs to serve when none is named (the container's)


@dataclass
class Served:
    """One loaded run."""

    name: str                 # the id clients use: the run folder's name
    run_dir: Path
    task: Task
    model: nn.Module
    codec: Any                # tokenizer, codec or codec pair (``rnnkit.tasks.load``)
    decoder: Decoder | None   # language models only

    def info(self) -> dict:
        """What ``GET /v1/models`` says about it."""
        config = getattr(self.model, "config", None)
        out = {"id": self.name, "task": self.task.name, "cell": getattr(config, "cell", None),
               "generate": self.decoder is not None, "sessions": self.decoder is not None,
               "backend": "onnxruntime" if isinstance(self.model, PortableModel) else "torch"}
        if self.decoder is not None:
            tokenizer = self.codec
            out.update(level="char" if hasattr(tokenizer, "chars") else "word",
                       vocab_size=tokenizer.vocab_size, layers=config.num_layers,
                       hidden_size=config.hidden_size, probes=list(self.decoder.probes),
                       decoding=type(self.decoder.stepper).__name__)
        return out


def runs_in(folder: str | Path) -> list[Path]:
    """A run folder itself, or the run folders directly inside ``folder`` (a model directory
    such as SageMaker's /opt/ml/model may hold one run or several)."""
    folder = Path(folder)
    if _is_run(folder):
        return [folder]
    runs = sorted(p for p in folder.iterdir() if _is_run(p)) if folder.is_dir() else []
    if not runs:
        raise RnnkitError(f"'{folder}' holds no run ({MODEL_FILE} in it or in a folder in it)")
    return runs


def _is_run(folder: Path) -> bool:
    """A run folder, or an export folder (rnnkit export) for the onnxruntime backend."""
    return (folder / MODEL_FILE).is_file() or (folder / MANIFEST).is_file()


def resolve_runs(runs: list[str]) -> list[Path]:
    """The runs named, else those in ``$RNNKIT_MODEL_DIR``."""
    if runs:
        return [p for run in runs for p in runs_in(run)]
    folder = os.environ.get(MODEL_DIR_ENV)
    if not folder:
        raise RnnkitError(f"name a run to serve (rnnkit serve RUN), or set {MODEL_DIR_ENV} to "
                          "a folder of runs")
    return runs_in(folder)


def load_served(runs: list[Path], config: ServeConfig) -> dict[str, Served]:
    """Load every run; names are the folders' names (a repeated one gets -2, -3, ...)."""
    served: dict[str, Served] = {}
    for run_dir in runs:
        if config.backend == "onnxruntime":
            model, codec = load_portable(run_dir)
            task = task_named(model.manifest["task"])
        else:
            task = task_named(read_run_config(run_dir).get("task"), f"'{run_dir}'")
            model, codec = load(run_dir)
        decoder = None
        if task.name == "lm":
            decoder = Decoder(model, codec, batched=config.batched,
                              max_lanes=config.max_streams)
        name, n = run_dir.resolve().name, 1
        while name in served:
            n += 1
            name = f"{run_dir.resolve().name}-{n}"
        served[name] = Served(name, run_dir, task, model, codec, decoder)
    return served
