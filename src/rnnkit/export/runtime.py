"""An export folder run by ONNX Runtime behind the model's own call, so that rnnkit's
generation, prediction, evaluation and server use it unchanged::

    model, codec = load_portable("runs/demo/export-onnx")
    logits, state = model(tokens (B, T), state=None, *, lengths=None)

A call of one token per row without ``lengths`` runs the ``step`` graph; any other runs
``sequence`` (``lengths`` default to every row's full length). The state is the model's own
layout ((h, c) for an LSTM, h otherwise), as torch tensors; None means zeros. Language models,
classifiers and taggers run this way; a seq2seq export is a pair of graphs its caller's decoding
loop calls (``manifest.json``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.export import onnx_graphs
from rnnkit.export.folder import MANIFEST, read_manifest
from rnnkit.models.portable import as_parts, as_state
from rnnkit.tasks import task_named

DEFAULT_FOLDER = "export-onnx"     # where rnnkit export writes a run's ONNX graphs


def export_folder(path: str | Path) -> Path:
    """``path`` when it is an export folder, else the run folder's ``export-onnx``."""
    path = Path(path)
    if not (path / MANIFEST).is_file() and (path / DEFAULT_FOLDER / MANIFEST).is_file():
        return path / DEFAULT_FOLDER
    if not path.exists():
        raise RnnkitError(f"'{path}' does not exist")
    if not (path / MANIFEST).is_file():
        raise RnnkitError(f"'{path}' holds no ONNX export (no {MANIFEST} in it or in "
                          f"{DEFAULT_FOLDER}/); write one with rnnkit export RUN")
    return path


class PortableModel(nn.Module):
    """The ``sequence`` (and ``step``) graphs of an ONNX export folder as a module."""

    def __init__(self, folder: Path, manifest: dict, config: object,
                 threads: int | None = None) -> None:
        super().__init__()
        if manifest.get("backend") != "onnx" or "sequence" not in manifest["graphs"]:
            raise RnnkitError(f"'{folder}' is a {manifest.get('backend')} {manifest['task']} "
                              "export; the onnxruntime backend runs the onnx exports of lm, "
                              "classify and tag runs")
        self.config = config
        self.folder, self.manifest = folder, manifest
        self.sessions = {name: onnx_graphs.session(folder / g["file"], threads)
                         for name, g in manifest["graphs"].items()}
        self.states = [p for p in manifest["graphs"]["sequence"]["inputs"][2:]]
        # rnnkit's loops read the device of a model's first parameter: an empty one, on the CPU
        self.anchor = nn.Parameter(torch.empty(0), requires_grad=False)

    def zero_state(self, batch: int) -> tuple[Tensor, ...]:
        return tuple(torch.zeros([batch if d == "batch" else d for d in p["shape"]])
                     for p in self.states)

    def _run(self, name: str, *inputs: Tensor) -> list[Tensor]:
        graph = self.manifest["graphs"][name]
        feed = {p["name"]: t.detach().cpu().contiguous().numpy()
                for p, t in zip(graph["inputs"], inputs)}
        return [torch.from_numpy(a) for a in self.sessions[name].run(None, feed)]

    def forward(self, inputs: Tensor, state=None, *, lengths: Tensor | None = None):
        """inputs (B, T, ...) -> (the graph's output, the new state in the model's layout)."""
        parts = self.zero_state(inputs.shape[0]) if state is None else as_parts(state)
        if "step" in self.sessions and lengths is None and inputs.dim() == 2 and \
                inputs.shape[1] == 1:
            logits, *new = self._run("step", inputs[:, 0], *parts)
            return logits[:, None], as_state(tuple(new))                 # (B, 1, V)
        if lengths is None:
            lengths = torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.long)
        out, *new = self._run("sequence", inputs, torch.as_tensor(lengths).long(), *parts)
        return out, as_state(tuple(new))


def load_portable(path: str | Path, *, threads: int | None = None) -> tuple[PortableModel, object]:
    """The ONNX export at ``path`` (an export folder, or a run folder holding export-onnx/) as
    (model, codec), like :func:`rnnkit.load`."""
    folder = export_folder(path)
    manifest = read_manifest(folder)
    task = task_named(manifest.get("task"), f"'{folder / MANIFEST}'")
    try:
        model, codec = task.from_meta(manifest["meta"])
    except RnnkitError as e:
        raise RnnkitError(f"'{folder / MANIFEST}': {e}") from None
    return PortableModel(folder, manifest, model.config, threads).eval(), codec
