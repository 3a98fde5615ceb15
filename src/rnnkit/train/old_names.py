"""Run folders saved before rnnkit's recurrent layers took ``torch.nn``'s parameter names.

Such a ``model.safetensors`` holds ``rnn.cells.0.w_ih`` where today's model has
``rnn.weight_ih_l0`` (``cells.k`` is layer k // D, direction k % D). :func:`load_weights` loads
either kind into today's model: it reads the saved names from the file's header and, when they
are the old ones, shows :func:`~rnnkit.train.checkpoint.load_model_weights` the model under those
names, so its one-line key and shape checks run unchanged; the layers' ``_load_from_state_dict``
(:class:`~rnnkit.nn.layers.StackedRecurrent`) maps each old name to its new one. The optimizer
state of such a run needs nothing: the parameters keep their order.
"""

from __future__ import annotations

import os
from pathlib import Path

from safetensors import SafetensorError, safe_open
from torch import nn

from rnnkit.nn.layers import StackedRecurrent
from rnnkit.train.checkpoint import MODEL_FILE, load_model_weights


def old_names(model: nn.Module) -> dict[str, str]:
    """{today's state_dict key: the key before the rename} for every recurrent layer in
    ``model``."""
    names: dict[str, str] = {}
    for prefix, module in model.named_modules():
        if isinstance(module, StackedRecurrent):
            names.update(module.old_names(f"{prefix}." if prefix else ""))
    return names


class _UnderOldNames:
    """``model`` as :func:`load_model_weights` sees it: its state_dict under the old names."""

    def __init__(self, model: nn.Module, names: dict[str, str]) -> None:
        self.model, self.names = model, names

    def state_dict(self) -> dict:
        return {self.names.get(key, key): value for key, value in self.model.state_dict().items()}

    def load_state_dict(self, state_dict: dict, strict: bool = True):
        return self.model.load_state_dict(state_dict, strict=strict)


def load_weights(run_dir: str | os.PathLike, model: nn.Module) -> nn.Module:
    """:func:`~rnnkit.train.checkpoint.load_model_weights`, also for a run folder saved under
    the old parameter names; returns ``model``."""
    names = old_names(model)
    try:
        with safe_open(Path(run_dir) / MODEL_FILE, framework="pt") as f:
            saved = set(f.keys())
    except (SafetensorError, OSError):
        saved = set()                                    # load_model_weights says what is wrong
    if names and not saved & names.keys() and saved & set(names.values()):
        load_model_weights(run_dir, _UnderOldNames(model, names))
        return model
    return load_model_weights(run_dir, model)
