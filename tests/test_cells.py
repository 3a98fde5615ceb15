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
    with torch.no_grad():
        mine.w_ih.copy_(ref.weight_ih)
        mine.w_hh.copy_(ref.weight_hh)
        mine.b_ih.copy_(ref.bias_ih)
        mine.b_hh.copy_(ref.bias_hh)
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


def test_lstm_forget_bias_starts_at_one_and_can_be_switched_off():
    cell = rn.LSTMCell(3, 4)
    forget = cell.b_ih[4:8] + cell.b_hh[4:8]
    torch.testing.assert_close(forget, torch.ones(4))
    others = torch.cat([cell.b_ih[:4], cell.b_ih[8:]])
    assert others.abs().max() > 0  # the other gates keep torch.nn's random init
    plain = rn.LSTMCell(3, 4, forget_bias=None)
    assert not torch.allclose(plain.b_ih[4:8] + plain.b_hh[4:8], torch.ones(4))


def test_layer_keeps_the_forget_bias_in_every_cell():
    layer = rn.LSTM(3, 4, num_layers=2, bidirectional=True)
    for cell in layer.cells:
        torch.testing.assert_close(cell.b_ih[4:8] + cell.b_hh[4:8], torch.ones(4))


@pytest.mark.parametrize("kwargs,needle", [
    (dict(hidden_size=0), "hidden_size"), (dict(num_layers=0), "num_layers"),
    (dict(dropout=1.0), "dropout"), (dict(path="warp"), "path"),
])
def test_bad_layer_settings_are_refused_in_one_line(kwargs, needle):
    args = dict(input_size=3, hidden_size=4) | kwargs
    with pytest.raises(RnnkitError, match=needle):
        rn.LSTM(args.pop("input_size"), args.pop("hidden_size"), **args)


def test_bad_inputs_to_a_layer_are_refused():
    layer = rn.GRU(3, 4)
    with pytest.raises(RnnkitError, match="expected input"):
        layer(torch.randn(2, 5, 4))
    with pytest.raises(RnnkitError, match="lengths must lie"):
        layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 0]))
    with pytest.raises(RnnkitError, match="initial state"):
        layer(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))
