"""Checkpoints: model weights in safetensors, trainer state in a torch file, both atomic.

A run folder holds::

    model.safetensors   the model's state_dict; header metadata {"format": "rnnkit",
                        "step": "<n>", "meta": "<json>"} where meta is the caller's dict
                        (model config, vocabulary, ...) so the weights load with one call
    trainer.pt          optimizer, scheduler, step, RNG states, carried state, data position

Each file is replaced atomically, so an interrupted save leaves the previous checkpoint
readable. The two files are written one after the other; both carry the step, and
``load_trainer_state`` refuses a pair whose steps differ (a save cut between the two writes).
Weights with NaN/Inf are never written.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from rnnkit.data.text import atomic_write
from rnnkit.errors import RnnkitError

MODEL_FILE = "model.safetensors"  # weights and metadata
TRAINER_FILE = "trainer.pt"  # everything else a resumed run needs
FORMAT = "rnnkit"  # the "format" entry of the safetensors metadata

__all__ = [
    "MODEL_FILE",
    "TRAINER_FILE",
    "atomic_write",
    "params_finite",
    "save_checkpoint",
    "load_model_weights",
    "load_checkpoint_meta",
    "load_trainer_state",
]


def params_finite(model: nn.Module) -> bool:
    """True when every floating-point tensor of the model's state_dict is free of NaN/Inf."""
    return all(
        bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point()
    )


def save_checkpoint(
    run_dir: str | os.PathLike, model: nn.Module, trainer_state: dict, meta: dict
) -> Path:
    """Write ``model.safetensors`` and ``trainer.pt`` into ``run_dir`` (created if needed).

    ``trainer_state`` is typically ``{**trainer.state_dict(), "data": batcher.state_dict()}``;
    its ``"step"`` (if any) is also stored in the weights' metadata. ``meta`` must be
    JSON-serialisable. Raises RnnkitError, writing nothing, if the weights are not finite.
    """
    run_dir = Path(run_dir)
    if not params_finite(model):
        raise RnnkitError("refusing to save a checkpoint: the model weights contain NaN or Inf")
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "step": str(trainer_state.get("step", "")),
        "meta": json.dumps(meta, ensure_ascii=False),
    }
    atomic_write(run_dir / TRAINER_FILE, lambda tmp: torch.save(trainer_state, tmp))
    atomic_write(run_dir / MODEL_FILE, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    return run_dir


def _model_path(run_dir: Path) -> Path:
    path = run_dir / MODEL_FILE
    if not path.is_file():
        raise RnnkitError(f"run folder '{run_dir}' has no {MODEL_FILE}")
    return path


def _metadata(run_dir: Path) -> dict[str, str]:
    path = _model_path(run_dir)
    try:
        with safe_open(path, framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise RnnkitError(f"'{path}' is truncated or corrupt ({e})") from None


def load_checkpoint_meta(run_dir: str | os.PathLike) -> dict:
    """The ``meta`` dict given to :func:`save_checkpoint` (read from the header only)."""
    run_dir = Path(run_dir)
    raw = _metadata(run_dir).get("meta")
    if raw is None:
        raise RnnkitError(f"'{run_dir / MODEL_FILE}' has no rnnkit metadata")
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise RnnkitError(f"'{run_dir / MODEL_FILE}' has corrupt rnnkit metadata") from None


def load_model_weights(run_dir: str | os.PathLike, model: nn.Module) -> nn.Module:
    """Load ``run_dir/model.safetensors`` into ``model`` (in place; returns it).

    Every key and shape is checked first, so a mismatch is reported as one line naming the
    keys or the tensor, not as torch's multi-line ``load_state_dict`` error.
    """
    run_dir = Path(run_dir)
    path = _model_path(run_dir)
    try:
        saved = load_file(path, device="cpu")
    except (SafetensorError, OSError) as e:
        raise RnnkitError(f"'{path}' is truncated or corrupt ({e})") from None
    expected = model.state_dict()
    missing = sorted(expected.keys() - saved.keys())
    unexpected = sorted(saved.keys() - expected.keys())
    if missing or unexpected:
        raise RnnkitError(
            f"checkpoint does not match the model: missing keys {missing}, unexpected {unexpected}"
        )
    for key, tensor in expected.items():
        if saved[key].shape != tensor.shape:
            raise RnnkitError(
                f"shape of '{key}' is {tuple(saved[key].shape)} in the checkpoint "
                f"but {tuple(tensor.shape)} in the model"
            )
    model.load_state_dict(saved, strict=True)
    return model


def load_trainer_state(run_dir: str | os.PathLike) -> dict:
    """Read ``run_dir/trainer.pt`` (on CPU) and check it belongs with ``model.safetensors``.

    Our own file, so full unpickling (``weights_only=False``) is used: it holds RNG states.
    """
    run_dir = Path(run_dir)
    path = run_dir / TRAINER_FILE
    if not path.is_file():
        raise RnnkitError(f"run folder '{run_dir}' has no {TRAINER_FILE}, so it cannot be resumed")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (EOFError, pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, OSError) as e:
        reason = str(e).split(". ")[0].splitlines()[0] if str(e) else type(e).__name__
        raise RnnkitError(f"'{path}' is truncated or corrupt ({reason})") from None
    if not isinstance(state, dict):
        raise RnnkitError(f"'{path}' is not an rnnkit trainer state")
    weights_step = _metadata(run_dir).get("step", "")
    if weights_step != str(state.get("step", "")):
        raise RnnkitError(
            f"run folder '{run_dir}' has weights from step {weights_step or '?'} but trainer state "
            f"from step {state.get('step')}; the last save was interrupted"
        )
    return state
