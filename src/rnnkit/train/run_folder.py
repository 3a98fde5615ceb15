"""The files of a run folder that every task shares, read and written in one place.

    config.json   {"task", "data", "model", "train", ...}: what ``--resume`` and ``load`` read
    metrics.jsonl one JSON line per logged step and per evaluation
    learning_curve.png

Writes are atomic (a crash leaves the previous file); reads fail in one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from rnnkit.data.files import read_input_bytes
from rnnkit.data.text import atomic_write
from rnnkit.errors import RnnkitError
from rnnkit.typed import config_from

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "learning_curve.png"


def write_json(path: Path, obj) -> None:
    """Write a run's JSON file atomically (readable UTF-8, indented)."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False),
                                                  encoding="utf-8"))


def read_run_config(run_dir: str | Path) -> dict:
    """config.json of a run folder, with one-line errors for a missing or broken folder."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RnnkitError(f"run folder '{run_dir}' does not exist")
    if not run_dir.is_dir():
        raise RnnkitError(f"'{run_dir}' is not a run folder (it is a file)")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RnnkitError(f"'{run_dir}' is not a run folder: it has no {CONFIG_FILE}")
    try:
        config = json.loads(read_input_bytes(path, what="run config").decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise RnnkitError(f"'{path}' is corrupt (not JSON)") from None
    if not isinstance(config, dict) or not isinstance(config.get("task"), str):
        raise RnnkitError(f"'{path}' is not an rnnkit run config")
    for key in ("data", "model", "train"):
        if not isinstance(config.get(key, {}), dict):
            raise RnnkitError(f"'{path}' is not an rnnkit run config ({key!r} is not an object)")
    return config


def check_new_run_folder(out: Path, overwrite: bool) -> Path:
    """``out`` ready for a new run: refused in one line when it is a file, or a folder with
    something in it and ``overwrite`` is False."""
    if out.exists() and not out.is_dir():
        raise RnnkitError(f"--out '{out}' is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise RnnkitError(f"run folder '{out}' already exists; use --resume {out} to continue "
                          "it or --overwrite to replace it")
    return out


def from_saved(config_class, saved: dict, key: str, run_dir, **changes):
    """``config_class`` built from the run's ``config.json`` entry ``saved[key]`` (with
    ``changes``), its types checked, or one line naming what does not fit."""
    return config_from(config_class, saved.get(key), f"'{run_dir}/config.json' ({key})",
                       **changes)
