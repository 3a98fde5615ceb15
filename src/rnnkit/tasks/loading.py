"""Load a trained run in one call: ``model, codec = rnnkit.load("runs/demo")``.

The second item is what turns inputs into the model's numbers and back: a language model's
tokenizer, a classifier's or tagger's codec (vocabulary, label set, normalisation:
``codec.labels.labels`` are the class names), a conditional generator's ``(symbols,
conditions)``, a seq2seq run's ``(source symbols, target symbols)``. Everything needed is in
``model.safetensors`` itself (its metadata holds the task, the model config and the
vocabulary), so the file alone is enough; a run folder or the file's path both work.

>>> model, tokenizer = rnnkit.load("runs/demo")                   # doctest: +SKIP
>>> rnnkit.tasks.TASKS["lm"].predict(model, tokenizer, ["ROMEO:"], length=40)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.tasks.registry import task_named
from rnnkit.train.checkpoint import MODEL_FILE, load_checkpoint_meta
from rnnkit.train.old_names import load_weights


def run_folder(run: str | Path) -> Path:
    """The run folder of ``run`` (a folder, or its model.safetensors), checked to exist."""
    run_dir = Path(run)
    if run_dir.is_file() and run_dir.name == MODEL_FILE:
        run_dir = run_dir.parent
    if not run_dir.exists():
        raise RnnkitError(f"run folder '{run_dir}' does not exist")
    if not run_dir.is_dir():
        raise RnnkitError(f"'{run_dir}' is not a run folder")
    return run_dir


def load(run: str | Path, *, device: str = "cpu") -> tuple[nn.Module, Any]:
    """The trained model (in eval mode, on ``device``) and its tokenizer or codec."""
    run_dir = run_folder(run)
    meta = load_checkpoint_meta(run_dir)
    if not isinstance(meta, dict):
        raise RnnkitError(f"'{run_dir / MODEL_FILE}' has no rnnkit metadata")
    task = task_named(meta.get("task"), f"'{run_dir / MODEL_FILE}'")
    try:
        model, codec = task.from_meta(meta)
    except RnnkitError as e:
        raise RnnkitError(f"'{run_dir / MODEL_FILE}': {e}") from None
    load_weights(run_dir, model)
    return model.to(device).eval(), codec
