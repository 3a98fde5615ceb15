"""rnnkit: recurrent sequence models on PyTorch.

>>> import rnnkit
>>> model, tokenizer = rnnkit.load("runs/demo")          # doctest: +SKIP
"""

from rnnkit.errors import RnnkitError
from rnnkit.tasks.loading import load

__version__ = "0.1.0"
__all__ = ["load", "RnnkitError", "__version__"]
