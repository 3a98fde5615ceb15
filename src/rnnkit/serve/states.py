"""A model's carried state as data: stacked and split along its batch dimension, and written to
bytes and read back without pickle.

A language model's state is whatever its encoder returns (:mod:`rnnkit.models.encoders`):
nested tuples of tensors, each with a batch dimension somewhere. A stacked LSTM gives
``(h, c)``, each (L, B, H); a GRU, an Elman layer or a minimal cell one (L, B, H); the stateless
baselines the window of recent inputs (B, P, I). :func:`batch_dims` finds the batch dimension of
every tensor once, by running the model on two batch sizes, so nothing here knows a layout by
name::

    >>> import torch
    >>> from rnnkit.models import LanguageModel, LMConfig
    >>> lm = LanguageModel(LMConfig(vocab_size=9, embed_size=4, hidden_size=5, num_layers=2)).eval()
    >>> dims = batch_dims(lm)
    >>> dims
    (1, 1)
    >>> _, a = lm(torch.tensor([[1, 2]])); _, b = lm(torch.tensor([[3]]))
    >>> both = stack_states([a, b], dims)             # (h, c), each (L, 2, H)
    >>> [torch.equal(x, y) for x, y in zip(split_state(both, dims)[1], b)]
    [True, True]

:func:`state_to_bytes` writes the leaves with safetensors (tensors and a JSON header, never
pickle) and the nesting as a JSON string in its metadata; :func:`state_from_bytes` reads it back
exactly, bit for bit.
"""

from __future__ import annotations

import json

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import Tensor, nn

from rnnkit.errors import RnnkitError

Dims = object    # the state's nesting with each tensor replaced by its batch dimension (an int)


def leaves(state) -> list:
    """The tensors (or, of ``dims``, the ints) of a nested-tuple state, depth first; None (a
    window MLP of one step keeps nothing) has none."""
    if state is None:
        return []
    if not isinstance(state, (tuple, list)):
        return [state]
    return [t for part in state for t in leaves(part)]


def shape_of(state) -> object:
    """The nesting alone: 0 for a tensor, None for None, a list of the parts' for a tuple."""
    if state is None:
        return None
    return [shape_of(part) for part in state] if isinstance(state, (tuple, list)) else 0


def rebuild(nesting, tensors: list[Tensor]):
    """The inverse of (:func:`shape_of`, :func:`leaves`): tensors put back into the nesting."""
    it = iter(tensors)

    def build(node):
        if node is None:
            return None
        return next(it) if node == 0 else tuple(build(part) for part in node)
    return build(nesting)


def _map(fn, *states):
    """``fn`` over matching tensors of several states with the same nesting."""
    first = states[0]
    if first is None:
        return None
    if isinstance(first, Tensor):
        return fn(*states)
    return tuple(_map(fn, *parts) for parts in zip(*states))


@torch.inference_mode()
def batch_dims(model: nn.Module) -> Dims:
    """The batch dimension of every tensor of ``model``'s state (a language model's
    ``forward(tokens (B, T), state) -> (logits, state)``), found by running it on batches of 2
    and 3 one-token sequences: the one dimension whose size follows B."""
    was = model.training
    model.eval()
    try:
        two = model(torch.zeros(2, 1, dtype=torch.long), None)[1]
        three = model(torch.zeros(3, 1, dtype=torch.long), None)[1]
    finally:
        model.train(was)

    def dim(a: Tensor, b: Tensor) -> int:
        differ = [d for d, (x, y) in enumerate(zip(a.shape, b.shape)) if (x, y) == (2, 3)]
        if len(differ) != 1 or a.dim() != b.dim():
            raise RnnkitError(f"cannot find the batch dimension of a state tensor of shape "
                              f"{tuple(a.shape)}")
        return differ[0]
    return _map(dim, two, three)


def stack_states(states: list, dims: Dims):
    """Per-stream states (batch 1 each, same nesting) -> one state of batch ``len(states)``."""
    return _map_dims(lambda d, *ts: torch.cat(ts, dim=d), dims, *states)


def split_state(state, dims: Dims) -> list:
    """One state of batch B -> B states of batch 1 (views of ``state``)."""
    size = leaves(state)[0].shape[leaves(dims)[0]]
    return [_map_dims(lambda d, t, i=i: t.narrow(d, i, 1), dims, state) for i in range(size)]


def select_rows(state, dims: Dims, rows: Tensor):
    """The streams ``rows`` (indices into the batch) of a batched state, in that order."""
    return _map_dims(lambda d, t: t.index_select(d, rows), dims, state)


def _map_dims(fn, dims, *states):
    if dims is None:
        return None
    if isinstance(dims, int):
        return fn(dims, *states)
    return tuple(_map_dims(fn, d, *parts) for d, *parts in zip(dims, *states))


def state_to_bytes(state) -> bytes:
    """A state (nested tuples of tensors) as safetensors bytes; the nesting in its metadata."""
    tensors = {f"t{i}": t.detach().contiguous().cpu() for i, t in enumerate(leaves(state))}
    return save_tensors(tensors, metadata={"nesting": json.dumps(shape_of(state))})


def state_from_bytes(data: bytes):
    """The state written by :func:`state_to_bytes`, bit for bit."""
    tensors = load_tensors(data)
    nesting = json.loads(_metadata(data)["nesting"])
    return rebuild(nesting, [tensors[f"t{i}"] for i in range(len(tensors))])


def _metadata(data: bytes) -> dict:
    """The ``__metadata__`` of safetensors bytes: an 8-byte length, then a JSON header."""
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + size]).get("__metadata__", {})
