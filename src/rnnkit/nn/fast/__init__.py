"""rnnkit's speed code: the fast paths of :mod:`rnnkit.nn`'s layers, built on its cells.

:mod:`~rnnkit.nn.fast.dispatch` chooses a layer's path (:func:`auto_path`) and runs it.
``"fused"`` runs PyTorch's multi-layer kernels (:mod:`~rnnkit.nn.fast.fused`); ``"explicit"``
runs each layer and direction as one autograd node with a hand-written backward
(:mod:`~rnnkit.nn.fast.explicit_gru`, :mod:`~rnnkit.nn.fast.explicit_lstm`,
:mod:`~rnnkit.nn.fast.explicit_elman`), whose time loops run compiled
(:mod:`~rnnkit.nn.fast.native`, ``csrc/``) where they could be built. Every fast path is tied by
the tests to the reference loop, :func:`rnnkit.nn.recurrence.scan`.
"""

from rnnkit.nn.fast.buffer_cache import empty_cache, set_cache_bytes
from rnnkit.nn.fast.dispatch import auto_path, explicit_scan
from rnnkit.nn.fast.explicit_elman import ExplicitElman, explicit_elman
from rnnkit.nn.fast.explicit_gru import ExplicitGRU, explicit_gru
from rnnkit.nn.fast.explicit_lstm import ExplicitLSTM, explicit_lstm
from rnnkit.nn.fast.fused import fused_forward
from rnnkit.nn.fast.projection import project

__all__ = [
    "auto_path", "explicit_scan",
    "ExplicitElman", "explicit_elman", "ExplicitGRU", "explicit_gru",
    "ExplicitLSTM", "explicit_lstm",
    "fused_forward", "project",
    "empty_cache", "set_cache_bytes",
]
