"""Graphs as ``torch.export`` programs (``.pt2``): for ExecuTorch, AOTInductor or
``torch.export.load(path).module()``, with the same dynamic axes as the ONNX files."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from rnnkit.models.portable import Graph

SUFFIX = ".pt2"


def write(graph: Graph, path: Path, example: tuple[Tensor, ...]) -> None:
    """Export ``graph`` traced on ``example`` and save the program to ``path``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(graph.module, example,
                                      dynamic_shapes=graph.dynamic_shapes())
    torch.export.save(program, str(path))


def runner(path: Path, graph: Graph, threads: int | None = None
           ) -> Callable[[tuple[Tensor, ...]], list[np.ndarray]]:
    """Call the saved program with torch tensors in ``graph``'s input order."""
    module = torch.export.load(str(path)).module()

    def call(inputs: tuple[Tensor, ...]) -> list[np.ndarray]:
        with torch.no_grad():
            return [t.numpy() for t in module(*inputs)]
    return call
