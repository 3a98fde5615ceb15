"""PyTorch's own RNN test cases (test/test_nn.py), run against rnnkit's RNN, LSTM, GRU and cells.

rnnkit.nn's recurrent classes claim to be torch.nn's, so torch.nn's tests are theirs: argument
and shape checks, dropout between layers (fixed, changed after construction, kept through a
pickle), the initial state, an empty batch, a zero-length sequence, cells that refuse to
broadcast, gradients and second derivatives, packed sequences, and the interface a port relies on
(positional arguments, initialisation, state_dict names, attributes, torch.save/torch.load,
TorchScript, torch.compile, torch.export). Written from those tests' cases in this project's
words; each path that computes a layer is run where the case concerns the numbers.
"""

import copy
import io
import itertools

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck, gradgradcheck
from torch.nn.utils import rnn as rnn_utils

import rnnkit.nn as rn

MODES = {"RNN": (rn.RNN, nn.RNN), "GRU": (rn.GRU, nn.GRU), "LSTM": (rn.LSTM, nn.LSTM)}
PATHS = ("auto", "fused", "explicit", "loop")


def flat(out):
    """(output, h) or (output, (h, c)) -> a tuple of tensors."""
    output, state = out
    return (output, *state) if isinstance(state, tuple) else (output, state)


def twin(mode, *args, path="auto", **kwargs):
    """torch.nn's module and rnnkit's, same arguments, same weights."""
    ours, theirs = MODES[mode]
    ref = theirs(*args, **kwargs)
    mine = ours(*args, **kwargs, path=path)
    mine.load_state_dict(ref.state_dict())
    return mine, ref


# -- test_rnn_args_check, test_projections_lstm_args_check ---------------------------------------
@pytest.mark.parametrize("mode", list(MODES))
def test_wrong_input_and_hidden_shapes_raise_runtime_errors(mode):
    I, H, L, B, T, bad = 3, 5, 2, 4, 6, 7
    good_x, good_h = (T, B, I), (L, B, H)

    def inputs(x_shape, h_shape):
        x, h = torch.randn(x_shape), torch.randn(h_shape)
        if mode != "LSTM":
            return [(x, h)]
        if h_shape == good_h:
            return [(x, (h, h))]
        return [(x, (h, torch.randn(good_h))), (x, (torch.randn(good_h), h))]

    def changed(shape, dim, size):
        return tuple(size if i == dim else s for i, s in enumerate(shape))

    cases = [(changed(good_x, 1, bad), good_h), (good_x, changed(good_h, 1, bad)),
             (changed(good_x, 2, bad), good_h), (good_x, changed(good_h, 2, bad)),
             (good_x, changed(good_h, 0, bad))]
    model = MODES[mode][0](I, H, L)
    for x_shape, h_shape in cases:
        for x, hx in inputs(x_shape, h_shape):
            with pytest.raises(RuntimeError):
                model(x, hx)


def test_projected_lstm_checks_h_against_proj_size_and_c_against_hidden_size():
    I, H, P, L, B, T, bad = 3, 5, 2, 2, 4, 6, 7
    model = rn.LSTM(I, H, L, proj_size=P)
    x = torch.randn(T, B, I)
    good_h, good_c = torch.randn(L, B, P), torch.randn(L, B, H)
    model(x, (good_h, good_c))
    for h, c in [(torch.randn(L, B, H), good_c), (good_h, torch.randn(L, B, P)),
                 (torch.randn(L, bad, P), good_c), (good_h, torch.randn(bad, B, H))]:
        with pytest.raises(RuntimeError):
            model(x, (h, c))
    with pytest.raises(RuntimeError):
        model(torch.randn(T, B, bad), (good_h, good_c))


# -- test_RNN_dropout, test_RNN_dropout_state, test_RNN_change_dropout ----------------------------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("p", [0.0, 0.276, 0.731, 1.0])
@pytest.mark.parametrize("train", [True, False])
def test_dropout_falls_between_the_layers_only(path, p, train):
    """All-ones weights and input, ReLU: layer 1 outputs 10 per unit, layer 2 sums the 1000
    units it keeps, scaled by 1/(1 - p)."""
    torch.manual_seed(0)
    rnn = rn.RNN(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu", path=path)
    rnn.train(train)
    with torch.no_grad():
        for w in rnn.parameters():
            w.fill_(1.0)
    output, hy = rnn(torch.ones(1, 1, 10), torch.zeros(2, 1, 1000))
    assert output.min() == output.max()
    value = float(output[0, 0, 0].detach())
    if p == 0 or not train:
        assert value == 10000
    elif p == 1:
        assert value == 0
    else:
        assert 8000 < value < 12000
        remainder = (value * (1 - p)) % 10           # a whole number of kept units times 10
        assert min(remainder, 10 - remainder) < 1e-2
    assert hy[0].min() == hy[0].max() == 10
    assert hy[1].min() == hy[1].max() == value


@pytest.mark.parametrize("mode,path", [(m, p) for m in MODES for p in PATHS])
@pytest.mark.parametrize("batch_first,bidirectional", [(False, False), (True, True)])
def test_one_seed_drops_the_units_torch_nn_drops(mode, path, batch_first, bidirectional):
    """Training with dropout from the same seed gives torch.nn's numbers (word_language_model
    trained from one seed reaches torch.nn's perplexity): the masks between the layers are drawn
    over the time-major output, as torch.nn's kernels draw them, in either layout."""
    mine, ref = twin(mode, 5, 6, 3, dropout=0.5, batch_first=batch_first,
                     bidirectional=bidirectional, path=path)
    x = torch.randn(4, 3, 5)
    outs = []
    for layer in (ref, mine):
        torch.manual_seed(1)
        outs.append(flat(layer(x)))
        outs[-1] += (torch.rand(1),)                 # the generator is left where torch.nn's is
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("mode,path", [(m, p) for m in MODES for p in PATHS])
@pytest.mark.parametrize("enforce_sorted,bidirectional", [(True, False), (False, True)])
def test_one_seed_drops_the_units_torch_nn_drops_in_a_packed_sequence(mode, path, enforce_sorted,
                                                                     bidirectional):
    """With a PackedSequence torch.nn draws the masks between the layers over the packed data;
    every path draws the same ones from one seed, in sorted and unsorted batches."""
    mine, ref = twin(mode, 5, 6, 3, dropout=0.5, bidirectional=bidirectional, path=path)
    lengths = [7, 7, 4, 2] if enforce_sorted else [4, 7, 2, 6]
    x = torch.randn(7, 4, 5)                                         # (T, B, I)
    outs = []
    for layer in (ref, mine):
        packed = rnn_utils.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
        torch.manual_seed(1)
        output, state = layer(packed)
        outs.append((output.data, *(state if isinstance(state, tuple) else (state,)),
                     torch.rand(1)))                 # the generator is left where torch.nn's is
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("p,train", [(0.0, True), (0.1234, True), (0.1234, False)])
def test_dropout_survives_a_pickle_and_draws_new_masks(path, p, train):
    torch.manual_seed(1)
    rnn = rn.RNN(100, 100, 2, bias=False, dropout=p, nonlinearity="relu", path=path).train(train)
    x, hx = torch.rand(1, 1, 100), torch.rand(2, 1, 100)
    out1, hy1 = rnn(x, hx)
    out2, hy2 = rnn(x, hx)
    buf = io.BytesIO()
    torch.save(rnn, buf)
    buf.seek(0)
    rnn2 = torch.load(buf, weights_only=False)
    rnn2.flatten_parameters()
    out3, hy3 = rnn2(x, hx)
    same = p == 0 or not train
    for a, b in [(out1, out2), (out1, out3), (hy1, hy2), (hy1, hy3)]:
        assert torch.equal(a, b) == same


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("train", [True, False])
def test_setting_dropout_after_construction_takes_effect(path, train):
    torch.manual_seed(2)
    rnn = rn.RNN(100, 100, 2, dropout=0, nonlinearity="relu", path=path).train(train)
    x = torch.rand(3, 2, 100)
    previous = None
    for p in (0, 0.5, 0, 0.7, 0.2, 1, 0.2, 0):
        rnn.dropout = p
        out1, hy1 = rnn(x)
        out2, hy2 = rnn(x)
        if p in (0, 1) or not train:
            assert torch.equal(out1, out2) and torch.equal(hy1, hy2)
        else:
            assert not torch.equal(out1, out2) and not torch.equal(hy1, hy2)
        if previous is not None:
            assert torch.equal(out1, previous) != train
        previous = out1.detach()


# -- test_rnn_initial_hidden_state, test_projections_lstm_initial_hidden_state -------------------
@pytest.mark.parametrize("mode,proj", [("RNN", 0), ("GRU", 0), ("LSTM", 0), ("LSTM", 10)])
def test_no_initial_state_is_a_zero_state(mode, proj):
    kwargs = {"proj_size": proj} if proj else {}
    rnn = MODES[mode][0](30, 20, 2, **kwargs)
    x = torch.randn(10, 32, 30)
    h = torch.zeros(2, 32, proj or 20)
    hx = (h, torch.zeros(2, 32, 20)) if mode == "LSTM" else h
    for a, b in zip(flat(rnn(x, hx)), flat(rnn(x))):
        assert torch.equal(a, b)


# -- test_RNN_input_size_zero, sequence length zero -----------------------------------------------
@pytest.mark.parametrize("mode,path", [(m, p) for m in MODES for p in PATHS])
def test_an_empty_batch_runs_forward_and_backward(mode, path):
    rnn = MODES[mode][0](input_size=3, hidden_size=4, path=path)
    out = rnn(torch.zeros(5, 0, 3))
    assert out[0].shape == (5, 0, 4)
    out[0].sum().backward()                              # no error, no division by B


@pytest.mark.parametrize("mode,path", [(m, p) for m in MODES for p in PATHS])
def test_a_zero_length_sequence_is_refused_as_torch_nn_refuses_it(mode, path):
    rnn = MODES[mode][0](input_size=3, hidden_size=4, path=path)
    for x in (torch.zeros(0, 2, 3), torch.zeros(0, 3)):
        with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
            rnn(x)


# -- test_RNN_cell_no_broadcasting -----------------------------------------------------------------
CELLS = {"RNNCell": rn.RNNCell, "GRUCell": rn.GRUCell, "LSTMCell": rn.LSTMCell}


@pytest.mark.parametrize("name", list(CELLS))
def test_cells_refuse_to_broadcast_the_state_or_the_input(name):
    I, H = 10, 20
    cell = CELLS[name](I, H)
    x, good = torch.randn(3, I), torch.randn(3, H)
    bads = [(x, torch.randn(1, H)), (x, torch.randn(3, 1)), (torch.randn(3, 1), good)]
    for inp, bad in bads:
        states = [(bad, good), (good, bad)] if name == "LSTMCell" else [bad]
        if inp is not x:
            states = [(good, good)] if name == "LSTMCell" else [good]
        for state in states:
            with pytest.raises(RuntimeError):
                cell(inp, state)
            with pytest.raises(RuntimeError):
                cell.step(inp, state)


@pytest.mark.parametrize("name", list(CELLS))
def test_cells_are_torch_nn_cells(name):
    torch.manual_seed(3)
    ref = getattr(nn, name)(4, 6, bias=False)
    torch.manual_seed(3)
    cell = CELLS[name](4, 6, False)
    assert [n for n, _ in cell.named_parameters()] == [n for n, _ in ref.named_parameters()]
    for a, b in zip(cell.parameters(), ref.parameters()):
        assert torch.equal(a, b)
    assert repr(cell).replace(type(cell).__name__, name) == repr(ref)
    for x in (torch.randn(5, 4), torch.randn(4)):                 # batched and unbatched
        for got, want in zip(flat((None, cell(x))), flat((None, ref(x)))):
            if got is not None:
                torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


# -- test_RNN_grad_and_gradgrad, test_GRU_..., test_LSTM_... --------------------------------------
@pytest.mark.parametrize("mode,path,bias", [(m, p, b) for m in MODES for p in PATHS
                                            for b in (True, False)])
def test_gradcheck_and_gradgradcheck_in_float64(mode, path, bias):
    torch.manual_seed(4)
    H = 4
    rnn = MODES[mode][0](H, H, bias=bias, path=path).double()
    x = torch.rand(1, 3, H, dtype=torch.float64, requires_grad=True)

    def fn(x):
        return flat(rnn(x))

    assert gradcheck(fn, (x,), check_batched_grad=False)
    assert gradgradcheck(fn, (x,), check_batched_grad=False)


@pytest.mark.parametrize("mode,path", [(m, p) for m in MODES for p in PATHS])
def test_a_gradient_penalty_gives_torch_nn_parameter_gradients(mode, path):
    """y + 10 |dy/dx|^2, as in a WGAN-GP critic: needs the gradient's own gradient."""
    torch.manual_seed(5)
    mine, ref = twin(mode, 4, 6, 2, path=path)
    x = torch.randn(7, 3, 4)
    grads = []
    for module in (mine, ref):
        x_ = x.clone().requires_grad_()
        y = module(x_)[0]
        g, = torch.autograd.grad(y.sum(), x_, create_graph=True)
        (y.sum() + 10 * g.square().sum()).backward()
        grads.append([p.grad for p in module.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # the penalty alone has a graph too
    x_ = x.clone().requires_grad_()
    g, = torch.autograd.grad(mine(x_)[0].sum(), x_, create_graph=True)
    g.square().sum().backward()


# -- packed sequences (_test_variable_sequence) ---------------------------------------------------
VARIABLE = [(True, [5]), (False, [5]), (True, [10, 10, 6, 2, 2, 1, 1]),
            (False, [10, 10, 6, 2, 2, 1, 1]), (False, [2, 1, 3, 2, 10, 5, 3])]


@pytest.mark.parametrize("mode,path,proj", [(m, p, 0) for m in MODES for p in PATHS]
                         + [("LSTM", "auto", 2), ("LSTM", "loop", 2)])
def test_packed_sequences_give_each_sequence_run_alone(mode, path, proj):
    torch.manual_seed(6)
    I, H, L = 3, 4, 2
    kwargs = {"proj_size": proj} if proj else {}
    for (enforce_sorted, lengths), default_state in itertools.product(VARIABLE, (True, False)):
        T, B = max(lengths), len(lengths)
        x_leaf = torch.randn(T, B, I, requires_grad=True)
        rnn = MODES[mode][0](I, H, L, bidirectional=True, path=path, **kwargs)
        alone = copy.deepcopy(rnn)
        hidden0 = None
        if not default_state:
            h = torch.randn(2 * L, B, proj or H)
            hidden0 = (h, torch.randn(2 * L, B, H)) if mode == "LSTM" else h

        outs, finals = [], []
        for i, n in enumerate(lengths):
            h_i = None if hidden0 is None else (
                tuple(s[:, i:i + 1].contiguous() for s in hidden0) if mode == "LSTM"
                else hidden0[:, i:i + 1].contiguous())
            out, fin = alone(x_leaf[:n, i:i + 1], h_i)
            outs.append(torch.cat([out, out.new_zeros(T - n, 1, out.shape[2])]))
            finals.append(fin if mode == "LSTM" else (fin,))
        seq_out = torch.cat(outs, 1)
        seq_finals = tuple(torch.cat(parts, 1) for parts in zip(*finals))

        packed = rnn_utils.pack_padded_sequence(x_leaf, lengths, enforce_sorted=enforce_sorted)
        packed_out, packed_finals = rnn(packed, hidden0)
        assert isinstance(packed_out, rnn_utils.PackedSequence)
        unpacked, unpacked_lengths = rnn_utils.pad_packed_sequence(packed_out)
        packed_finals = packed_finals if mode == "LSTM" else (packed_finals,)
        for a, b in zip(packed_finals, seq_finals):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        torch.testing.assert_close(unpacked, seq_out, atol=1e-5, rtol=0)
        assert unpacked_lengths.tolist() == lengths

        seq_out.sum().backward()
        grad_x = x_leaf.grad.clone()
        x_leaf.grad.zero_()
        unpacked.sum().backward()
        torch.testing.assert_close(x_leaf.grad, grad_x, atol=1e-5, rtol=0)
        for p1, p2 in zip(rnn.parameters(), alone.parameters()):
            torch.testing.assert_close(p1.grad, p2.grad, atol=1e-5, rtol=0)


# -- the interface a port relies on ---------------------------------------------------------------
def test_positional_arguments_are_torch_nn_s():
    rnn = rn.RNN(10, 20, 2, "relu")
    assert rnn.nonlinearity == "relu" and rnn.bias is True and rnn.mode == "RNN_RELU"
    gru = rn.GRU(10, 20, 2, True, False, 0.5)
    assert gru.dropout == 0.5 and gru.bidirectional is False and gru.batch_first is False
    lstm = rn.LSTM(10, 20, 2, False, True, 0.25, True, 5)
    assert (lstm.bias, lstm.batch_first, lstm.dropout, lstm.bidirectional, lstm.proj_size) == \
        (False, True, 0.25, True, 5)
    for cls in (rn.RNN, rn.GRU):
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
            cls(10, 20, proj_size=5)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        rn.RNN(10, 20, nonlinearity="gelu")
    with pytest.raises(TypeError):
        rn.LSTM(10, 20, 2, True, False, 0.0, False, 0, None, None, 1.0)   # additions: keywords
    with pytest.warns(UserWarning, match="dropout option adds dropout after all but last"):
        rn.GRU(10, 20, dropout=0.5)


@pytest.mark.parametrize("mode,kwargs", [
    ("RNN", {}), ("GRU", dict(bidirectional=True)), ("LSTM", dict(num_layers=2)),
    ("LSTM", dict(proj_size=3, bias=False)), ("GRU", dict(batch_first=True, num_layers=3))])
def test_a_seed_gives_torch_nn_s_parameters_names_and_repr(mode, kwargs):
    ours, theirs = MODES[mode]
    torch.manual_seed(7)
    ref = theirs(5, 8, **kwargs)
    torch.manual_seed(7)
    mine = ours(5, 8, **kwargs)
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in ref.named_parameters()]
    for a, b in zip(mine.parameters(), ref.parameters()):
        assert torch.equal(a, b)
    assert repr(mine) == repr(ref)
    assert mine._flat_weights_names == ref._flat_weights_names
    assert [[w.shape for w in ws] for ws in mine.all_weights] == \
        [[w.shape for w in ws] for ws in ref.all_weights]
    assert mine.mode == ref.mode
    assert mine.weight_ih_l0 is mine.all_weights[0][0]
    mine.flatten_parameters()
    ref.load_state_dict(mine.state_dict())              # and back into torch.nn


@pytest.mark.parametrize("mode,path", [(m, p) for m in MODES for p in PATHS])
@pytest.mark.parametrize("batch_first", [False, True])
def test_both_layouts_compute_torch_nn_s_numbers(mode, path, batch_first):
    torch.manual_seed(8)
    mine, ref = twin(mode, 4, 5, 2, batch_first=batch_first, bidirectional=True, path=path)
    x = torch.randn(3, 6, 4)                             # (T, B) or (B, T) = (3, 6)
    got, want = flat(mine(x)), flat(ref(x))
    for a, b in zip(got, want):
        assert a.shape == b.shape and (a.is_contiguous() or not b.is_contiguous())
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    unbatched = x[0] if batch_first else x[:, 0]                 # (T, I)
    for a, b in zip(flat(mine(unbatched)), flat(ref(unbatched))):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_dtype_device_and_a_dtype_mismatch():
    gru = rn.GRU(3, 4, device="cpu", dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in gru.parameters())
    assert gru(torch.randn(2, 5, 3, dtype=torch.float64))[0].dtype == torch.float64
    with pytest.raises(ValueError, match="does not match weight dtype"):
        gru(torch.randn(2, 5, 3))


def test_lengths_may_be_a_list():
    gru = rn.GRU(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    a, b = gru(x, lengths=[5, 2]), gru(x, lengths=torch.tensor([5, 2]))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_state_dict_loads_with_weights_only_and_the_whole_model_pickles():
    lstm = rn.LSTM(3, 4, 2, forget_bias=1.0)
    buf = io.BytesIO()
    torch.save(lstm.state_dict(), buf)
    buf.seek(0)
    again = rn.LSTM(3, 4, 2)
    again.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.randn(5, 2, 3)
    assert torch.equal(again(x)[0], lstm(x)[0])
    buf = io.BytesIO()
    torch.save(lstm, buf)
    buf.seek(0)
    whole = torch.load(buf, weights_only=False)
    assert torch.equal(whole(x)[0], lstm(x)[0])


@pytest.mark.parametrize("mode,path,kwargs", [(m, p, {}) for m in MODES for p in PATHS] + [
    ("LSTM", "auto", {"proj_size": 2, "bidirectional": True}),
    ("LSTM", "auto", {"layer_norm": True, "recurrent_dropout": 0.25})])
def test_a_whole_model_loads_with_weights_only_where_torch_nn_s_does(mode, path, kwargs):
    """word_language_model's final load: torch.load(weights_only=True) under safe_globals
    listing torch.nn's classes, after training steps (nothing the run leaves on the layer may
    stop it)."""
    torch_kwargs = {k: v for k, v in kwargs.items() if k in ("proj_size", "bidirectional")}
    ours, theirs = MODES[mode]
    allowed = [theirs, nn.Sequential, nn.Linear]
    for layer in (ours(3, 4, 2, **kwargs, path=path), theirs(3, 4, 2, **torch_kwargs)):
        x = torch.randn(5, 2, 3)
        layer(x)[0].sum().backward()
        model = nn.Sequential(layer, nn.Linear(1, 1)).eval()
        buf = io.BytesIO()
        torch.save(model, buf)
        buf.seek(0)
        with torch.serialization.safe_globals(allowed):
            again = torch.load(buf, weights_only=True)
        assert type(again[0]) is type(layer)
        for a, b in zip(flat(again[0](x)), flat(layer(x))):
            assert torch.equal(a, b)


@pytest.mark.parametrize("name", list(CELLS))
def test_a_whole_cell_loads_with_weights_only_where_torch_nn_s_does(name):
    theirs = getattr(nn, name)
    for cell in (CELLS[name](3, 4), theirs(3, 4)):
        buf = io.BytesIO()
        torch.save(cell, buf)
        buf.seek(0)
        with torch.serialization.safe_globals([theirs]):
            again = torch.load(buf, weights_only=True)
        x = torch.randn(2, 3)
        mine, ref = again(x), cell(x)
        for a, b in zip(mine if isinstance(mine, tuple) else (mine,),
                        ref if isinstance(ref, tuple) else (ref,)):
            assert torch.equal(a, b)


def test_functional_call_and_a_replaced_parameter_reach_every_path():
    for path in PATHS:
        gru = rn.GRU(3, 4, path=path)
        x = torch.randn(5, 2, 3)
        zeros = {k: torch.zeros_like(v) for k, v in gru.named_parameters()}
        assert torch.func.functional_call(gru, zeros, (x,))[0].abs().max() == 0
        gru.weight_ih_l0 = nn.Parameter(torch.zeros_like(gru.weight_ih_l0))
        gru.weight_hh_l0 = nn.Parameter(torch.zeros_like(gru.weight_hh_l0))
        gru.bias_ih_l0.data.zero_()
        gru.bias_hh_l0.data.zero_()
        assert gru(x)[0].abs().max() == 0


@pytest.mark.parametrize("mode", list(MODES))
def test_torch_jit_script_runs_the_fused_path_on_the_same_parameters(mode):
    torch.manual_seed(9)
    layer = MODES[mode][0](3, 4, 2, bidirectional=True).eval()
    x = torch.randn(6, 2, 3)
    scripted = torch.jit.script(layer)
    for a, b in zip(flat(scripted(x)), flat(layer(x))):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    assert scripted(x[:, 0])[0].shape == (6, 8)
    with torch.no_grad():
        layer.weight_hh_l1.zero_()                       # the scripted module holds these
    torch.testing.assert_close(scripted(x)[0], layer(x)[0], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("mode", list(MODES))
def test_torch_compile_traces_the_whole_layer_in_one_graph(mode):
    torch.manual_seed(10)
    layer = MODES[mode][0](3, 4, 2)
    x = torch.randn(6, 2, 3)
    compiled = torch.compile(layer, fullgraph=True, backend="eager")
    for a, b in zip(flat(compiled(x)), flat(layer(x))):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("mode", list(MODES))
def test_torch_export_exports_the_layer(mode):
    torch.manual_seed(11)
    layer = MODES[mode][0](3, 4, 2).eval()
    x = torch.randn(6, 2, 3)
    program = torch.export.export(layer, (x,))
    for a, b in zip(flat(program.module()(x)), flat(layer(x))):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
