"""Portable models: a trained run as ONNX or ``torch.export`` graphs (``rnnkit export``), and
an ONNX export run by ONNX Runtime behind the model's own call (docs/export.md). The optional
``export`` extra (onnx, onnxruntime, onnxscript) is imported only when it is used."""

from rnnkit.export.run import ExportConfig, export_run
from rnnkit.export.runtime import PortableModel, load_portable

__all__ = ["ExportConfig", "export_run", "PortableModel", "load_portable"]
