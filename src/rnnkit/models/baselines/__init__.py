"""Non-recurrent baselines with the recurrent encoders' interface (see ``models.encoders``).

Each is an encoder ``forward(x (B, T, I), state=None, *, lengths=None) -> (output, state)`` with
an ``output_size``, so ``--cell mlp|cnn|transformer`` runs wherever a recurrent cell does. None
of them has a recurrent state: the ``state`` they pass along is the window of recent *inputs*
the next call still needs (:mod:`rnnkit.models.baselines.window`), so streaming generation,
which feeds one token at a time with the returned state, recomputes over that window.

Every encoder also has ``forward_layers(x, state=None, *, lengths=None) -> (layers, state)``:
each layer's output sequence (B, T, H) in order, the last being ``forward``'s output. The
gradient diagnostics (``rnnkit.train.diagnostics``) read them.
"""

from rnnkit.models.baselines.cnn import CNNConfig, CNNEncoder
from rnnkit.models.baselines.mlp import MLPConfig, MLPEncoder
from rnnkit.models.baselines.transformer import TransformerConfig, TransformerEncoder

__all__ = ["CNNConfig", "CNNEncoder", "MLPConfig", "MLPEncoder", "TransformerConfig",
           "TransformerEncoder"]
