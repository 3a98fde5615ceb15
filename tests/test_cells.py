"""Each cell's pure step: float64 gradcheck, torch.nn's cell maths, initialisation."""

import pytest
import torch
from torch import nn

import rnnkit.nn as rn
from rnnkit.errors import RnnkitError

CELLS = {
    "rnn_tanh": (lambda: rn.ElmanCell(3, 4), lambda: nn.RNNCell(3, 4, nonlinearity="tanh")),
    "rnn_relu": (lambda: rn.ElmanCell(3, 4, nonlinearity="relu"),
                 lambda: nn.RNNCell(3, 4, nonlinearity="relu")),
    "lstm": (lambda: rn.LSTMCell(3, 4), lambda: nn.LSTMCell(3, 4)),
    "gru": (lambda: rn.GRUCell(3, 4), lambda: nn.GRUCell(3, 4)),
}


def random_state(cell, batch, dtype=torch.float64):
    parts = [torch.randn(batch, cell.hidden_size, dtype=dtype, requires_grad=True)
             for _ in range(cell.state_size)]
    return parts[0] if cell.state_size == 1 else tuple(parts)


class _Step(nn.Module):
    """Exposes a cell's ``step`` as ``forward`` so torch.func can swap its parameters."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x, *state):
        y, new = self.cell.step(x, state if len(state) == 2 else state[0])
        return (y, *new) if isinstance(new, tuple) else (y, new)


@pytest.mark.parametrize("name", list(CELLS))
def test_step_passes_float64_gradcheck(name):
    """Gradients of y_t and the new state w.r.t. x_t, the state and every parameter."""
    torch.manual_seed(0)
    step = _Step(CELLS[name][0]().double())
    names = [n for n, _ in step.named_parameters()]
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    state = random_state(step.cell, 2)
    state = state if isinstance(state, tuple) else (state,)
    weights = tuple(p.detach().clone().requires_grad_() for p in step.parameters())

    def fn(x, *rest):
        s, w = rest[:len(state)], rest[len(state):]
        return torch.func.functional_call(step, dict(zip(names, w)), (x, *s))

    assert torch.autograd.gradcheck(fn, (x, *state, *weights))


@pytest.mark.parametrize("name", list(CELLS))
def test_step_matches_torch_nn_cell_with_copied_weights(name):
    torch.manual_seed(1)
    mine, ref = CELLS[name][0](), CELLS[name][1]()
    mine.load_state_dict(ref.state_dict())               # torch.nn's names
    x = torch.randn(5, 3)
    state = tuple(s.detach().float() for s in
                  (random_state(mine, 5) if name == "lstm" else (random_state(mine, 5),)))
    y, new = mine.step(x, state if name == "lstm" else state[0])
    expected = ref(x, state if name == "lstm" else state[0])
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = new if isinstance(new, tuple) else (new,)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(y, expected[0], atol=1e-6, rtol=1e-5)


def test_lstm_forget_bias_is_torch_nn_init_unless_asked():
    torch.manual_seed(4)
    ref = nn.LSTMCell(3, 4)
    torch.manual_seed(4)
    plain = rn.LSTMCell(3, 4)
    for a, b in zip(plain.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)                         # same seed, same weights
    cell = rn.LSTMCell(3, 4, forget_bias=1.0)
    forget = cell.bias_ih[4:8] + cell.bias_hh[4:8]
    torch.testing.assert_close(forget, torch.ones(4))
    others = torch.cat([cell.bias_ih[:4], cell.bias_ih[8:]])
    assert others.abs().max() > 0  # the other gates keep torch.nn's random init


def test_layer_keeps_the_forget_bias_in_every_cell():
    layer = rn.LSTM(3, 4, num_layers=2, bidirectional=True, forget_bias=1.0)
    for cell in layer.cells:
        torch.testing.assert_close(cell.bias_ih[4:8] + cell.bias_hh[4:8], torch.ones(4))
    assert torch.equal(layer.bias_ih_l1_reverse[4:8], torch.ones(4))


@pytest.mark.parametrize("kwargs,needle", [
    (dict(hidden_size=0), "hidden_size"), (dict(num_layers=0), "num_layers"),
    (dict(dropout=1.5), "dropout"), (dict(path="warp"), "path"),
])
def test_bad_layer_settings_are_refused_in_one_line(kwargs, needle):
    args = dict(input_size=3, hidden_size=4) | kwargs
    with pytest.raises(ValueError, match=needle):
        rn.LSTM(args.pop("input_size"), args.pop("hidden_size"), **args)


def test_bad_inputs_to_a_layer_are_refused():
    layer = rn.GRU(3, 4, batch_first=True)
    with pytest.raises(RnnkitError, match="input_size"):
        layer(torch.randn(2, 5, 4))
    with pytest.raises(RnnkitError, match="lengths must lie"):
        layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 0]))
    with pytest.raises(RnnkitError, match="hidden size"):
        layer(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))
