"""The optional ``export`` extra (onnx, onnxruntime, onnxscript): imported when a command needs
it, with one line saying how to install it when it is missing. rnnkit imports without it."""

from __future__ import annotations

import importlib
from types import ModuleType

from rnnkit.errors import RnnkitError

INSTALL = "pip install '.[export]'"


def require(name: str, why: str) -> ModuleType:
    """The module ``name`` of the export extra, or one line naming what needs it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise RnnkitError(f"{why} needs the export extra ({name} is missing): {INSTALL} "
                          "(or pip install 'rnnkit[export]')") from None
