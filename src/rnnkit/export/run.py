"""``rnnkit export RUN``: a trained run as portable graphs in a folder of their own.

The run's task says which graphs its model has (:meth:`rnnkit.tasks.Task.portable_graphs`,
:mod:`rnnkit.models.portable`); each is traced, written (:mod:`~rnnkit.export.onnx_graphs` or
:mod:`~rnnkit.export.torch_graphs`), then read back and called on fresh random inputs (batch 1
and time 1, then a padded batch) beside the eager model: a float32 graph further than
:data:`TOLERANCE` from it is an error, and the difference measured goes into the manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnkit.errors import RnnkitError
from rnnkit.export import onnx_graphs, torch_graphs
from rnnkit.export.folder import (MANIFEST, TOKENIZER, FORMAT, codec_json, check_out, graph_json,
                                  publish, write_json)
from rnnkit.models.portable import Graph
from rnnkit.tasks import load, task_named
from rnnkit.tasks.loading import run_folder
from rnnkit.train.checkpoint import load_checkpoint_meta

FORMATS = {"onnx": onnx_graphs, "torch-export": torch_graphs}
QUANTIZE = ("int8",)
TOLERANCE = 1e-4     # largest |graph - eager| a float32 export may show on its check inputs
# The sizes the check calls every graph with: the smallest (B = 1, T = 1) and a padded batch.
CHECK_SIZES = ({"batch": 1, "time": 1, "source": 1, "width": 3},
               {"batch": 4, "time": 9, "source": 6, "width": 5})


@dataclass(frozen=True)
class ExportConfig:
    """What ``rnnkit export`` writes."""

    format: str = "onnx"           # one of FORMATS: "onnx" or "torch-export"
    out: Path | None = None        # the folder; None: RUN/export-FORMAT (-int8 when quantised)
    quantize: str | None = None    # "int8": ONNX Runtime's dynamic int8 products (onnx only)
    overwrite: bool = False        # replace an existing folder
    seed: int = 0                  # of the random inputs the graphs are traced and checked on

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise RnnkitError(f"unknown export format {self.format!r}; choose one of "
                              f"{', '.join(FORMATS)}")
        if self.quantize is not None and self.quantize not in QUANTIZE:
            raise RnnkitError(f"unknown quantisation {self.quantize!r}; choose int8")
        if self.quantize and self.format != "onnx":
            raise RnnkitError("--quantize int8 applies to --format onnx (ONNX Runtime's "
                              "dynamic quantisation)")

    def folder(self, run_dir: Path) -> Path:
        name = f"export-{self.format}" + (f"-{self.quantize}" if self.quantize else "")
        return self.out if self.out is not None else run_dir / name


def max_abs_diff(graph: Graph, call, generator: torch.Generator) -> float:
    """Largest |call(inputs) - graph.module(inputs)| over the outputs, on CHECK_SIZES."""
    worst = 0.0
    for sizes in CHECK_SIZES:
        inputs = graph.example(generator, sizes)
        with torch.no_grad():
            expected = graph.module(*inputs)
        for want, got in zip(expected, call(inputs)):
            if want.dtype == torch.bool:
                worst = max(worst, float(np.any(want.numpy() != got)))
            else:
                worst = max(worst, float(np.abs(want.double().numpy() - got).max()))
    return worst


def export_run(run: str | Path, config: ExportConfig) -> tuple[Path, dict]:
    """Write ``run``'s graphs to ``config.folder(run)``; returns (folder, manifest)."""
    run_dir = run_folder(run)
    out = config.folder(run_dir)
    check_out(out, config.overwrite)
    model, _ = load(run_dir)
    meta = load_checkpoint_meta(run_dir)
    graphs = task_named(meta.get("task")).portable_graphs(model)
    backend = FORMATS[config.format]
    manifest = {"format": FORMAT, "version": 1, "task": meta["task"], "backend": config.format,
                "quantize": config.quantize, "model": meta.get("model"),
                "tokenizer": TOKENIZER, "torch": torch.__version__, "graphs": {}, "meta": meta}

    def fill(folder: Path) -> None:
        generator = torch.Generator().manual_seed(config.seed)
        for graph in graphs:
            file = graph.name + backend.SUFFIX
            backend.write(graph, folder / file, graph.example(generator))
            if config.quantize == "int8":
                onnx_graphs.quantize_int8(folder / file)
            diff = max_abs_diff(graph, backend.runner(folder / file, graph, threads=1),
                                generator)
            if config.quantize is None and not diff <= TOLERANCE:
                raise RnnkitError(f"the exported {graph.name} graph differs from the model by "
                                  f"{diff:.2e} (more than {TOLERANCE:g}): not written")
            manifest["graphs"][graph.name] = graph_json(graph, file, diff)
        write_json(folder / TOKENIZER, codec_json(meta))
        write_json(folder / MANIFEST, manifest)

    publish(out, fill, overwrite=config.overwrite)
    return out, json.loads(json.dumps(manifest))
