"""Checkpoints: weights and trainer state in safetensors and JSON, one atomic step each.

A checkpoint is one folder ``run_dir/checkpoints/step-00000050/`` (the layout and how it
changes atomically: :mod:`rnnkit.train.checkpoint_folders`) holding::

    model.safetensors    the model's state_dict; header metadata {"format": "rnnkit",
                         "step": "<n>", "meta": "<json>", "checkpoint": "<save id>"} where
                         meta is the caller's dict (model config, vocabulary, ...) so the
                         weights load with one call
    trainer.safetensors  every tensor of the trainer state (optimizer moments, RNG states...)
    trainer.json         the rest of the trainer state and its structure, referring to those
                         tensors (:mod:`rnnkit.train.state_codec`)

``run_dir/model.safetensors`` is the newest checkpoint's weights: what inference loads.

Rules:

- nothing is ever unpickled. A run folder saved by an older rnnkit (``trainer.pt``, a pickle)
  still loads for inference but is refused for resume;
- all three files of a checkpoint carry one random save id and the step, so a folder whose
  files come from different saves is refused as damaged;
- resuming takes the newest checkpoint that loads whole; when that is not the newest one, one
  ``rnnkit: warning:`` line says which was skipped and why;
- weights with NaN/Inf are never written; a meta dict or trainer state that cannot be stored
  (not JSON, an unknown type) raises before anything is written.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from rnnkit.data.datasets.announce import warn
from rnnkit.data.atomic import fsync_dir
from rnnkit.data.files import check_input_file, read_input_bytes
from rnnkit.data.text import atomic_write
from rnnkit.errors import RnnkitError
from rnnkit.train import checkpoint_folders as folders
from rnnkit.train.state_codec import decode, encode

MODEL_FILE = "model.safetensors"  # weights and metadata
TRAINER_TENSORS = "trainer.safetensors"  # the trainer state's tensors
TRAINER_JSON = "trainer.json"  # the trainer state's structure and plain values
LEGACY_TRAINER_FILE = "trainer.pt"  # a pickle of older versions: never loaded
FORMAT = "rnnkit"  # the "format" entry of the safetensors metadata
TRAINER_FORMAT = "rnnkit-trainer-state/1"  # the "format" entry of trainer.json
STEP_FILES = (MODEL_FILE, TRAINER_TENSORS, TRAINER_JSON)  # a complete checkpoint folder

__all__ = [
    "MODEL_FILE",
    "atomic_write",
    "clear_checkpoints",
    "load_checkpoint_meta",
    "load_model_weights",
    "load_resume_point",
    "load_trainer_state",
    "params_finite",
    "save_checkpoint",
]


class _Unusable(Exception):
    """A checkpoint folder that is torn or damaged; resuming falls back past it."""


def params_finite(model: nn.Module) -> bool:
    """True when every floating-point tensor of the model's state_dict is free of NaN/Inf."""
    return all(
        bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point()
    )


def save_checkpoint(
    run_dir: str | os.PathLike, model: nn.Module, trainer_state: dict, meta: dict
) -> Path:
    """Write ``run_dir/checkpoints/step-N`` (N: ``trainer_state["step"]``, an int) as one
    atomic step, point ``run_dir/model.safetensors`` at its weights, and prune old folders.

    ``trainer_state`` is typically ``{**trainer.state_dict(), "data": batcher.state_dict()}``;
    ``meta`` must be JSON-serialisable. Raises RnnkitError (non-finite weights) or TypeError
    (meta or state that cannot be stored) before writing anything. Returns ``run_dir``.
    """
    run_dir = Path(run_dir)
    if not params_finite(model):
        raise RnnkitError("refusing to save a checkpoint: the model weights contain NaN or Inf")
    step = trainer_state.get("step")
    if type(step) is not int or step < 0:
        raise TypeError(f"trainer_state['step'] must be a non-negative int, got {step!r}")
    save_id = secrets.token_hex(8)
    weights = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "step": str(step), "checkpoint": save_id,
                "meta": json.dumps(meta, ensure_ascii=False)}
    tree, tensors = encode(trainer_state)
    structure = json.dumps({"format": TRAINER_FORMAT, "step": step, "checkpoint": save_id,
                            "state": tree}, allow_nan=False)
    folder = folders.publish_step(run_dir, step, {
        MODEL_FILE: lambda p: save_file(weights, p, metadata=metadata),
        TRAINER_TENSORS: lambda p: save_file(tensors, p, metadata={"checkpoint": save_id}),
        TRAINER_JSON: lambda p: p.write_text(structure, encoding="ascii"),
    })
    folders.link_root(folder, MODEL_FILE, run_dir)
    folders.prune(run_dir, step, STEP_FILES)
    return run_dir


def clear_checkpoints(run_dir: str | os.PathLike) -> None:
    """Empty a run folder of its old run's state before ``--overwrite`` trains it afresh.

    ``checkpoints/`` goes first, in one rename, so a kill part-way through can never leave a
    checkpoint to resume; then ``model.safetensors``, an older version's ``trainer.pt`` and
    every JSON-lines log (``metrics.jsonl``, ``gradient_flow.jsonl``). Other files
    (config.json, plots, the ``.lock``) are the caller's to rewrite.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    folders.remove_all(run_dir)
    for path in [run_dir / MODEL_FILE, run_dir / LEGACY_TRAINER_FILE, *run_dir.glob("*.jsonl")]:
        path.unlink(missing_ok=True)
    fsync_dir(run_dir)


def _model_path(run_dir: Path) -> Path:
    path = run_dir / MODEL_FILE
    if not path.exists():
        raise RnnkitError(f"run folder '{run_dir}' has no {MODEL_FILE}")
    return check_input_file(path, what="checkpoint file", size_limit=False)


def _header(path: Path) -> dict[str, str]:
    try:
        with safe_open(path, framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise RnnkitError(f"'{path}' is truncated or corrupt ({e})") from None


def load_checkpoint_meta(run_dir: str | os.PathLike) -> dict:
    """The ``meta`` dict given to :func:`save_checkpoint` (read from the header only)."""
    run_dir = Path(run_dir)
    raw = _header(_model_path(run_dir)).get("meta")
    if raw is None:
        raise RnnkitError(f"'{run_dir / MODEL_FILE}' has no rnnkit metadata")
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise RnnkitError(f"'{run_dir / MODEL_FILE}' has corrupt rnnkit metadata") from None


def load_model_weights(run_dir: str | os.PathLike, model: nn.Module) -> nn.Module:
    """Load ``run_dir/model.safetensors`` (the newest weights: what inference uses) into
    ``model`` (in place; returns it).

    Every key and shape is checked first, so a mismatch is reported as one line naming the
    keys or the tensor, not as torch's multi-line ``load_state_dict`` error.
    """
    path = _model_path(Path(run_dir))
    try:
        saved = load_file(path, device="cpu")
    except (SafetensorError, OSError) as e:
        raise RnnkitError(f"'{path}' is truncated or corrupt ({e})") from None
    _check_fits(saved, model)
    model.load_state_dict(saved, strict=True)
    return model


def _check_fits(saved: dict[str, torch.Tensor], model: nn.Module) -> None:
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


def load_resume_point(run_dir: str | os.PathLike, model: nn.Module) -> dict:
    """Load the newest complete checkpoint's weights into ``model`` and return its trainer
    state (on CPU), for ``trainer.load_state_dict`` and the batcher's ``load_state_dict``.

    A torn or damaged newer folder is skipped with one ``rnnkit: warning:`` line. RnnkitError
    in one line when no checkpoint is usable, when the folder was saved by an older version
    (``trainer.pt``: not unpickled), or when the weights do not fit ``model``.
    """
    run_dir = Path(run_dir)
    candidates = folders.step_folders(run_dir)
    if not candidates:
        _refuse_empty(run_dir)
    skipped = []
    for step, folder in candidates:
        try:
            weights, state = _read_step(folder, step)
        except _Unusable as e:
            skipped.append(f"{folder.name} ({e})")
            continue
        _check_fits(weights, model)
        model.load_state_dict(weights, strict=True)
        if skipped:
            more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
            warn(f"skipped the unusable checkpoint {skipped[0]}{more} of '{run_dir}'; "
                 f"resuming from {folder.name}")
        return state
    raise RnnkitError(f"run folder '{run_dir}' cannot be resumed: none of its checkpoints is "
                      f"usable (newest: {skipped[0]})")


def load_trainer_state(run_dir: str | os.PathLike) -> dict:
    """The trainer state saved together with ``run_dir/model.safetensors`` (the weights
    :func:`load_model_weights` loads), found by the save id they share.

    Kept for callers that load the root weights and the trainer state separately;
    :func:`load_resume_point` also falls back past a damaged newest checkpoint.
    """
    run_dir = Path(run_dir)
    candidates = folders.step_folders(run_dir)
    if not candidates:
        _refuse_empty(run_dir)
    header = _header(_model_path(run_dir))
    for step, folder in candidates:
        if str(step) == header.get("step"):
            try:
                _, state = _read_step(folder, step, expect_id=header.get("checkpoint"))
                return state
            except _Unusable as e:
                raise RnnkitError(f"run folder '{run_dir}' cannot be resumed: {folder.name} "
                                  f"is unusable ({e})") from None
    raise RnnkitError(f"run folder '{run_dir}' cannot be resumed: no checkpoint matches its "
                      f"{MODEL_FILE} (step {header.get('step') or '?'})")


def _refuse_empty(run_dir: Path) -> None:
    if (run_dir / LEGACY_TRAINER_FILE).exists():
        raise RnnkitError(f"run folder '{run_dir}' was saved by an older rnnkit version and "
                          f"cannot be resumed: its {LEGACY_TRAINER_FILE} is a pickle, which is "
                          f"never loaded for safety (its {MODEL_FILE} still loads for inference)")
    raise RnnkitError(f"run folder '{run_dir}' has no checkpoint, so it cannot be resumed")


def _read_step(folder: Path, step: int, *, expect_id: str | None = None) -> tuple[dict, dict]:
    """Weights and trainer state of one step folder, all three files checked to come from one
    save of ``step``; _Unusable with the reason otherwise."""
    try:
        for name in STEP_FILES:
            if not (folder / name).exists():
                raise _Unusable(f"no {name}")
            check_input_file(folder / name, what="checkpoint file", size_limit=False)
        header = _header(folder / MODEL_FILE)
        weights = load_file(folder / MODEL_FILE, device="cpu")
        tensors = load_file(folder / TRAINER_TENSORS, device="cpu")
        with safe_open(folder / TRAINER_TENSORS, framework="pt") as f:
            tensors_id = (f.metadata() or {}).get("checkpoint")
        raw = read_input_bytes(folder / TRAINER_JSON, what="checkpoint file")
        doc = json.loads(raw.decode("utf-8"))
    except (RnnkitError, SafetensorError, OSError, ValueError, RecursionError) as e:
        raise _Unusable(_first_line(e)) from None
    if not isinstance(doc, dict) or doc.get("format") != TRAINER_FORMAT:
        raise _Unusable(f"{TRAINER_JSON} is not an rnnkit trainer state")
    ids = {header.get("checkpoint"), tensors_id, doc.get("checkpoint")}
    if len(ids) != 1 or None in ids:
        raise _Unusable("its files come from different saves")
    if expect_id is not None and ids != {expect_id}:
        raise _Unusable(f"it and the run's {MODEL_FILE} come from different saves, the last "
                        "one cut short")
    if header.get("step") != str(step) or type(doc.get("step")) is not int \
            or doc["step"] != step:
        raise _Unusable(f"its files are not all from step {step}")
    try:
        state = decode(doc.get("state"), tensors)
    except (ValueError, RecursionError) as e:
        raise _Unusable(f"{TRAINER_JSON}: {e}") from None
    if not isinstance(state, dict) or type(state.get("step")) is not int or state["step"] != step:
        raise _Unusable(f"its trainer state is not from step {step}")
    return weights, state


def _first_line(e: BaseException) -> str:
    text = str(e).split(". ")[0].splitlines()
    return text[0] if text and text[0] else type(e).__name__
