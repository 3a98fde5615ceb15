"""An export folder: the graphs, the tokenizer and ``manifest.json``, written atomically.

``manifest.json`` says how to call the graphs without rnnkit::

    {"format": "rnnkit.export", "version": 1, "task": "lm", "backend": "onnx",
     "quantize": null, "model": {...the model config...},
     "tokenizer": "tokenizer.json",
     "graphs": {"step": {"file": "step.onnx", "about": "...",
                         "inputs": [{"name": "inputs", "shape": ["batch"], "dtype": "int64"},
                                    {"name": "h0", "shape": [2, "batch", 256], ...}, ...],
                         "outputs": [...], "max_abs_diff": 3e-07}, ...},
     "meta": {...the checkpoint's metadata: task, model config, vocabulary...}}

A shape lists sizes, a name for a dynamic axis (``batch``, ``time``, ``source``, ``width``);
``max_abs_diff`` is the largest difference from the eager model measured when the folder was
written. The folder appears complete or not at all: it is filled under a temporary name beside
its final one and renamed into place (:mod:`rnnkit.data.atomic`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from rnnkit.data.atomic import exchange, fsync_dir, new_temp_dir
from rnnkit.errors import RnnkitError
from rnnkit.models.portable import Graph, Port

MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
FORMAT = "rnnkit.export"


def port_json(port: Port) -> dict:
    return {"name": port.name, "shape": list(port.shape), "dtype": port.dtype}


def graph_json(graph: Graph, file: str, diff: float) -> dict:
    return {"file": file, "about": graph.about,
            "inputs": [port_json(p) for p in graph.inputs],
            "outputs": [port_json(p) for p in graph.outputs], "max_abs_diff": diff}


def codec_json(meta: dict) -> object:
    """What turns text into the graphs' ids and back: the checkpoint metadata beside the task
    and model config (a language model's tokenizer alone, as its run folder holds it)."""
    rest = {k: v for k, v in meta.items() if k not in ("task", "model")}
    return next(iter(rest.values())) if len(rest) == 1 else rest


def check_out(out: Path, overwrite: bool) -> None:
    """One line when ``out`` may not be written."""
    if out.exists() and not out.is_dir():
        raise RnnkitError(f"--out '{out}' is a file")
    if out.exists() and not overwrite:
        raise RnnkitError(f"'{out}' exists; pass --overwrite to replace it")


def publish(out: Path, fill: Callable[[Path], None], *, overwrite: bool) -> Path:
    """Run ``fill(folder)`` on a fresh temporary folder beside ``out``, then put it in
    ``out``'s place in one rename (an existing ``out`` is swapped out, then deleted)."""
    check_out(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_dir(out)
    try:
        fill(tmp)
        for path in tmp.iterdir():                    # durable before they are published
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(tmp)
        if out.is_dir() and exchange(tmp, out):
            shutil.rmtree(tmp)                       # the old folder, now under tmp's name
        else:
            if out.is_dir():
                shutil.rmtree(out)
            tmp.rename(out)
        fsync_dir(out.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def read_manifest(folder: str | Path) -> dict:
    """``folder/manifest.json``, checked, with one-line errors."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise RnnkitError(f"'{folder}' is not an export folder: it has no {MANIFEST} "
                          "(write one with rnnkit export RUN)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RnnkitError(f"'{path}' is corrupt (not JSON)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or \
            not isinstance(manifest.get("graphs"), dict) or not isinstance(manifest.get("meta"),
                                                                           dict):
        raise RnnkitError(f"'{path}' is not an rnnkit export manifest")
    for name, graph in manifest["graphs"].items():
        if not (Path(folder) / str(graph.get("file"))).is_file():
            raise RnnkitError(f"'{folder}' is incomplete: graph {name!r} has no file")
    return manifest
