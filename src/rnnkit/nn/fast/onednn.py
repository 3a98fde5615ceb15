"""oneDNN's prepacked linear, behind one check: tried once, with the public product as fallback.

For a large recurrent weight the explicit loops multiply by a copy of W reordered once into
oneDNN's blocked layout (:class:`~rnnkit.nn.fast.explicit_common.RecurrentProduct`). The ops
that do it, ``torch.ops.mkldnn._reorder_linear_weight`` and ``torch.ops.mkldnn._linear_pointwise``
(with its ``.binary`` overload, which adds a second operand), are torch-internal: inductor's CPU
weight freezing uses them, and a torch release may rename or drop them. So nothing calls them
before :func:`available` has run all three on a tiny tensor, the first time a packed product is
wanted, and kept the answer. Where they are missing or raise, rnnkit says so once on stderr and
the products run ``addmm_`` / ``torch.mm`` instead: the same numbers up to rounding. The compiled
loops (``csrc/loops_common.h``) look ``_linear_pointwise`` up only when handed a packed weight,
so they follow the same answer.
"""

from __future__ import annotations

import sys

import torch
from torch import Tensor

from rnnkit.errors import first_line

_checked: dict[str, bool] = {}      # {"available": the answer}, once tried


def pack(weight: Tensor, batch: int) -> Tensor:
    """W (rows, cols) reordered for products with ``batch`` rows of h."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), batch)


def linear(h: Tensor, packed: Tensor) -> Tensor:
    """h (B, cols) @ W^T (B, rows), a new tensor, from :func:`pack`'s W."""
    return torch.ops.mkldnn._linear_pointwise(h, packed, None, "none", [], "")


def linear_add(acc: Tensor, h: Tensor, packed: Tensor) -> Tensor:
    """acc + h @ W^T (B, rows), a new tensor, from :func:`pack`'s W."""
    return torch.ops.mkldnn._linear_pointwise.binary(h, acc, packed, None, "add")


def try_ops() -> None:
    """Run :func:`pack`, :func:`linear` and :func:`linear_add` on a tiny weight and check their
    products; raises where one is missing, fails, or computes something else."""
    weight = torch.arange(6.0).view(3, 2) / 6            # fixed values: no draw from the RNG
    h, acc = torch.ones(2, 2), torch.full((2, 3), 0.5)
    packed = pack(weight, 2)
    want = h @ weight.t()                                # (2, 3)
    if not (torch.allclose(linear(h, packed), want)
            and torch.allclose(linear_add(acc, h, packed), acc + want)):
        raise RuntimeError("the packed products differ from h @ W^T")


def _probe() -> bool:
    """Whether the ops run here, said once on stderr when oneDNN is there but they fail."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        with torch.no_grad():
            try_ops()
    except Exception as error:  # noqa: BLE001 - any failure means: use the public product
        print(f"rnnkit: note: oneDNN's prepacked linear is unavailable in this torch "
              f"({first_line(error)}); large recurrent products use torch.mm (same results)",
              file=sys.stderr)
        return False
    return True


def available() -> bool:
    """Whether the packed products may be used: tried on first call, the answer kept."""
    if "available" not in _checked:
        _checked["available"] = _probe()
    return _checked["available"]
