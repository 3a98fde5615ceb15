import json
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.train.rng import rng_state, set_rng_state
from rnnkit.train.state_codec import decode, encode


def _trained_lstm_state() -> dict:
    """What a resumed run saves: AdamW after a few steps of a tiny LSTM, every RNG state, a
    nested carried state and a data position."""
    torch.manual_seed(0)
    model = nn.LSTM(3, 5, num_layers=2, batch_first=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.99))
    for _ in range(3):
        out, (h, c) = model(torch.randn(2, 4, 3))
        out.pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    random.seed(1)
    np.random.seed(2)
    np.random.standard_normal()  # numpy now holds a cached Gaussian
    return {
        "step": 3,
        "bad_steps_total": 0,
        "optimizer": optimizer.state_dict(),
        "rng": rng_state(),
        "carried_state": ((h.detach(), c.detach()), [h.detach()[0].clone()]),
        "data": {"window": 7, "epoch": 0, "pass_start": random.Random(5).getstate()},
        "config": {"lr": 3e-3, "betas": (0.9, 0.99), "clip_norm": None, "max_norm": math.inf,
                   "precision": "fp32", "neg": -0.0},
        "odd": {"$dollar": 1, 2: "int key", "2": "str key", (1, "a"): [np.int64(3)],
                "nan": math.nan, "empty": torch.zeros(0, 3, dtype=torch.bfloat16)},
    }


def _same(a, b, where="top") -> None:
    """Exact equality of type and value, recursively (NaN equals NaN, -0.0 is not 0.0)."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8)), where
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), where
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or repr(a) == repr(b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}/{i}")
    else:
        assert a == b, where


def _round_trip(value):
    tree, tensors = encode(value)
    text = json.dumps(tree, allow_nan=False)  # the tree is strict JSON
    return decode(json.loads(text), {k: v.clone() for k, v in tensors.items()})


def test_trainer_state_round_trip_is_exact():
    state = _trained_lstm_state()
    back = _round_trip(state)
    _same(state, back)
    assert list(back["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5, 6, 7]  # int keys stay ints
    assert isinstance(back["rng"]["python"][1], tuple) and len(back["rng"]["python"][1]) == 625


def test_tensor_keys_are_path_like():
    _, tensors = encode(_trained_lstm_state())
    assert "optimizer/state/0/exp_avg" in tensors
    assert tensors["rng/torch"].dtype == torch.uint8
    assert tensors["rng/numpy/1"].dtype == torch.uint8  # the uint32 array, as its bytes


def test_restored_rng_states_draw_the_same_numbers():
    state = _round_trip(_trained_lstm_state())
    set_rng_state(state["rng"])
    first = (random.random(), np.random.standard_normal(), torch.rand(3))
    set_rng_state(_trained_lstm_state()["rng"])
    again = (random.random(), np.random.standard_normal(), torch.rand(3))
    assert first[:2] == again[:2] and torch.equal(first[2], again[2])


def test_tensors_are_copies_on_cpu():
    t = torch.arange(6.0).view(2, 3).t()  # not contiguous
    _, tensors = encode({"t": t})
    assert tensors["t"].is_contiguous() and torch.equal(tensors["t"], t)
    t[0, 0] = 99.0
    assert tensors["t"][0, 0] == 0.0


@pytest.mark.parametrize("value", [print, object(), {1, 2}, np.array(["a"]), b"bytes"])
def test_values_that_cannot_be_stored_name_their_type(value):
    with pytest.raises(TypeError, match="cannot save"):
        encode({"x": [value]})


BYTES8 = torch.zeros(8, dtype=torch.uint8)


@pytest.mark.parametrize("tree, tensors, reason", [
    ({"$tensor": "gone"}, {}, "tensor 'gone' is missing"),
    ({"a": 1}, {"extra": torch.zeros(1)}, "not referred to"),
    ({"$tuple": 3}, {}, "unknown or malformed node"),
    ({"$eval": "__import__('os')"}, {}, "unknown or malformed node"),
    ({"$float": "1e999"}, {}, "unknown or malformed node"),
    ({"$dict": [[[1], 2]]}, {}, "a dict key of type list"),
    ({"$ndarray": {"key": "a", "dtype": "O", "shape": [1]}}, {"a": BYTES8}, "not a numeric type"),
    ({"$ndarray": {"key": "a", "dtype": "<u4", "shape": [3]}}, {"a": BYTES8},
     "wrong number of bytes"),
    ({"$tensor": "a", "b": 1}, {"a": torch.zeros(1)}, "malformed node"),
    ([{"$tensor": "a"}, {"$tensor": "a"}], {"a": torch.zeros(1)}, "referred to twice"),
])
def test_malformed_structures_are_refused(tree, tensors, reason):
    with pytest.raises(ValueError, match=reason):
        decode(tree, tensors)
