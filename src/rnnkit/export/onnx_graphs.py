"""Graphs as ONNX files (``torch.onnx.export``, opset 18+), run by ONNX Runtime, and their int8
form.

``torch.onnx.export`` traces each graph with ``torch.export``, so the recurrent layers run their
``"scan"`` path (:mod:`rnnkit.nn.traced`) and every time loop becomes one ONNX ``Scan`` over
any number of steps; a ``step`` graph has no loop at all.

int8 (:func:`quantize_int8`) is ONNX Runtime's dynamic quantisation of every matrix product
with a weight: the input and recurrent products of each cell, the embedding-free head and the
attention's projections. Weights are stored as int8 (one scale per tensor); each call
quantises the activations entering a product to uint8 from their own range, multiplies in
integers and scales back to float32. Nothing is calibrated, and the elementwise gate
arithmetic stays float32.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from rnnkit.export.extra import require
from rnnkit.models.portable import Graph

SUFFIX = ".onnx"


def write(graph: Graph, path: Path, example: tuple[Tensor, ...]) -> None:
    """Trace ``graph`` on ``example`` and write it to ``path`` (one file, weights inside)."""
    for name in ("onnx", "onnxscript"):
        require(name, "rnnkit export --format onnx")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph.module, example, input_names=[p.name for p in graph.inputs],
            output_names=[p.name for p in graph.outputs],
            dynamic_shapes=graph.dynamic_shapes(), dynamo=True, optimize=True,
            external_data=False, verbose=False)
    program.save(str(path))


def session(path: Path, threads: int | None = None):
    """An ONNX Runtime session on the CPU for ``path`` (``threads``: intra-op threads, default
    torch's count, so both backends use what ``torch.set_num_threads`` allows)."""
    ort = require("onnxruntime", "the onnxruntime backend")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def runner(path: Path, graph: Graph, threads: int | None = None
           ) -> Callable[[tuple[Tensor, ...]], list[np.ndarray]]:
    """Call the file's graph with torch tensors in ``graph``'s input order."""
    s = session(path, threads)
    names = [p.name for p in graph.inputs]
    return lambda inputs: s.run(None, {n: t.numpy() for n, t in zip(names, inputs)})


def quantize_int8(path: Path) -> None:
    """Replace the float32 graph at ``path`` by its dynamically quantised int8 form."""
    require("onnxruntime", "--quantize int8")
    from onnxruntime.quantization import QuantType, quantize_dynamic
    fp32 = path.with_name(f"{path.stem}.fp32{path.suffix}")
    path.rename(fp32)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.getLogger().setLevel(logging.ERROR)
        quantize_dynamic(fp32, path, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm"])
    fp32.unlink()
