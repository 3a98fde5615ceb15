"""Trainer state without pickle: a nested value <-> a JSON tree plus a flat dict of tensors.

What a resumed run needs (``Trainer.state_dict()`` plus the data position) is nested
containers of plain values and arrays: the optimizer's state_dict (dicts with int keys, tuples
of betas, tensors), RNG states (torch's ByteTensor, numpy's ``('MT19937', uint32 array, pos,
has_gauss, cached)``, Python's ``(version, tuple of 625 ints, gauss_next)``), a carried
recurrent state (nested tuples of tensors, or None) and a data position. :func:`encode` splits
such a value into a JSON-able tree and ``{key: tensor}`` for safetensors, with path-like keys
(``optimizer/state/0/exp_avg``); :func:`decode` rebuilds it exactly: dtypes and shapes, tuple
versus list, int versus str dict keys, int versus float, -0.0, NaN and Inf. Decoding never
unpickles and never imports: only the node types below can come back.

Nodes of the tree::

    None, true, false, "text", 12         themselves (JSON keeps bool, int and float apart)
    1.5                                   a finite float (1.0 stays a float)
    {"$float": "nan" | "inf" | "-inf"}    a non-finite float
    [a, b]                                a list
    {"$tuple": [a, b]}                    a tuple (a namedtuple comes back a plain tuple)
    {"k": v}                              a dict whose keys are all str, none starting with "$"
    {"$dict": [[k, v], ...]}              any other dict (the optimizer's int keys), in order
    {"$tensor": "key"}                    a torch tensor, stored under "key"
    {"$ndarray": {"key": k, "dtype": "<u4", "shape": [624]}}   a numpy array, its bytes stored
                                          as a uint8 tensor under k
    {"$npscalar": {"dtype": "<i8", "hex": "0300000000000000"}}  a numpy scalar

>>> import numpy as np, torch
>>> tree, tensors = encode({"step": 3, 0: (torch.ones(2), np.arange(2, dtype=np.uint32))})
>>> sorted(tensors)
['0/0', '0/1']
>>> out = decode(tree, tensors)
>>> out["step"], out[0][0].tolist(), out[0][1].dtype
(3, [1.0, 1.0], dtype('uint32'))
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

_NUMERIC_KINDS = "biufc"  # numpy dtype kinds a saved array may have: never object or void


def encode(value: object) -> tuple[object, dict[str, Tensor]]:
    """The JSON tree of ``value`` and the CPU tensors it refers to (fresh, contiguous copies).

    Raises TypeError naming the path of a value of any other type (a module, a function...).
    """
    tensors: dict[str, Tensor] = {}
    return _encode(value, "", tensors), tensors


def decode(tree: object, tensors: dict[str, Tensor]) -> object:
    """Inverse of :func:`encode`; ValueError (one line) for a tree or tensors that do not fit
    together: an unknown node, a missing tensor, a tensor nothing refers to."""
    used: set[str] = set()
    value = _decode(tree, tensors, used)
    unused = sorted(tensors.keys() - used)
    if unused:
        raise ValueError(f"tensors {unused[:3]} are not referred to by the structure")
    return value


def _key(path: str, tensors: dict) -> str:
    """``path`` (``"root"`` if empty) made unique among the keys already used."""
    key, n = path or "root", 1
    while key in tensors:
        n += 1
        key = f"{path or 'root'}~{n}"
    return key


def _child(path: str, name: object) -> str:
    return f"{path}/{name}" if path else str(name)


def _encode(x: object, path: str, tensors: dict[str, Tensor]) -> object:
    if x is None or type(x) in (bool, int, str):
        return x
    if type(x) is float:
        return x if math.isfinite(x) else {"$float": repr(x)}  # 'nan', 'inf', '-inf'
    if isinstance(x, Tensor):
        if x.layout != torch.strided or x.is_quantized or x.device.type == "meta":
            raise TypeError(f"cannot save the {x.layout} tensor at '{path}'")
        key = _key(path, tensors)
        tensors[key] = x.detach().to("cpu", copy=True).contiguous()
        return {"$tensor": key}
    if isinstance(x, np.ndarray):
        key = _key(path, tensors)
        tensors[key] = torch.from_numpy(np.frombuffer(_numeric(x, path).tobytes(), np.uint8)
                                        .copy())
        return {"$ndarray": {"key": key, "dtype": x.dtype.str, "shape": list(x.shape)}}
    if isinstance(x, np.generic):
        return {"$npscalar": {"dtype": _numeric(x, path).dtype.str, "hex": x.tobytes().hex()}}
    if isinstance(x, tuple):
        return {"$tuple": [_encode(v, _child(path, i), tensors) for i, v in enumerate(x)]}
    if isinstance(x, list):
        return [_encode(v, _child(path, i), tensors) for i, v in enumerate(x)]
    if isinstance(x, dict):
        if all(type(k) is str and not k.startswith("$") for k in x):
            return {k: _encode(v, _child(path, k), tensors) for k, v in x.items()}
        return {"$dict": [[_encode(k, f"{path}/<key>", tensors), _encode(v, _child(path, k),
                                                                         tensors)]
                          for k, v in x.items()]}
    raise TypeError(f"cannot save a {type(x).__name__} at '{path or 'the top'}' of the trainer "
                    "state (only containers, numbers, strings, tensors and numpy arrays)")


def _numeric(x: np.ndarray | np.generic, path: str) -> np.ndarray | np.generic:
    if x.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"cannot save the numpy {x.dtype} value at '{path}'")
    return x


def _decode(node: object, tensors: dict[str, Tensor], used: set[str]) -> object:
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is list:
        return [_decode(v, tensors, used) for v in node]
    if type(node) is not dict:
        raise ValueError(f"unexpected {type(node).__name__} in the structure")
    tags = [k for k in node if k.startswith("$")]
    if not tags:
        return {k: _decode(v, tensors, used) for k, v in node.items()}
    if len(node) != 1:
        raise ValueError(f"malformed node with keys {sorted(node)[:4]}")
    tag, body = tags[0], node[tags[0]]
    if tag == "$float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "$tuple" and type(body) is list:
        return tuple(_decode(v, tensors, used) for v in body)
    if tag == "$dict" and type(body) is list:
        pairs = [_pair(item, tensors, used) for item in body]
        return dict(pairs)
    if tag == "$tensor":
        return _tensor(body, tensors, used)
    if tag == "$ndarray" and type(body) is dict:
        raw = _tensor(body.get("key"), tensors, used)
        dtype, shape = _dtype(body.get("dtype")), body.get("shape")
        if raw.dtype != torch.uint8 or type(shape) is not list \
                or any(type(n) is not int or n < 0 for n in shape):
            raise ValueError(f"malformed numpy array {body.get('key')!r}")
        if raw.numel() != math.prod(shape) * dtype.itemsize:
            raise ValueError(f"numpy array {body.get('key')!r} has the wrong number of bytes")
        return np.frombuffer(raw.numpy().tobytes(), dtype).reshape(shape).copy()
    if tag == "$npscalar" and type(body) is dict and type(body.get("hex")) is str:
        dtype = _dtype(body.get("dtype"))
        data = bytes.fromhex(body["hex"])
        if len(data) != dtype.itemsize:
            raise ValueError("malformed numpy scalar")
        return np.frombuffer(data, dtype)[0]
    raise ValueError(f"unknown or malformed node {tag!r}")


def _pair(item: object, tensors: dict[str, Tensor], used: set[str]) -> tuple:
    if type(item) is not list or len(item) != 2:
        raise ValueError("malformed dict entry")
    key = _decode(item[0], tensors, used)
    try:
        hash(key)
    except TypeError:
        raise ValueError(f"a dict key of type {type(key).__name__}") from None
    return key, _decode(item[1], tensors, used)


def _tensor(key: object, tensors: dict[str, Tensor], used: set[str]) -> Tensor:
    if type(key) is not str or key not in tensors:
        raise ValueError(f"tensor {key!r} is missing")
    if key in used:
        raise ValueError(f"tensor {key!r} is referred to twice")
    used.add(key)
    return tensors[key]


def _dtype(name: object) -> np.dtype:
    try:
        dtype = np.dtype(name) if type(name) is str else None
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.kind not in _NUMERIC_KINDS or dtype.hasobject:
        raise ValueError(f"numpy dtype {name!r} is not a numeric type")
    return dtype
