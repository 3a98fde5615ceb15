"""The serving decoder against its references: batched steps (Streamer, stacked states) and one
forward per stream give the logits of ``model.forward`` over the whole text; greedy text equals
``Task.predict``'s; states stack, split and round-trip through bytes exactly; a probe reads the
unit the cell equations give; the inverse-CDF draw never picks a filtered-out token."""

import random

import pytest
import torch

from rnnkit.data import CharTokenizer
from rnnkit.infer import SamplingConfig
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.models.encoders import forward_layers
from rnnkit.serve.engine import Decoder, Lane, Probe, draw
from rnnkit.serve.states import (batch_dims, leaves, select_rows, split_state, stack_states,
                                 state_from_bytes, state_to_bytes)
from rnnkit.serve.steppers import LoopStepper, StackedStepper, StreamerStepper
from rnnkit.tasks.lm_use import predict

TOKENIZER = CharTokenizer.from_text("abcdefghij klmnop\n")
CELLS = ["lstm", "gru", "rnn", "mingru", "minlstm", "mlp", "cnn", "transformer"]
STEPPER = {"lstm": StreamerStepper, "gru": StreamerStepper, "rnn": StreamerStepper,
           "mingru": StackedStepper, "minlstm": StackedStepper, "mlp": LoopStepper,
           "cnn": LoopStepper, "transformer": LoopStepper}
PROMPTS = ["abc", "hello", "a" * 40, "p"]      # "a" * 40 is read in one forward (prefill)


def model_for(cell: str, seed: int = 0) -> LanguageModel:
    torch.manual_seed(seed)
    return LanguageModel(LMConfig(vocab_size=TOKENIZER.vocab_size, cell=cell, embed_size=8,
                                  hidden_size=16, num_layers=2)).eval()


def decode(decoder: Decoder, lanes: list[Lane]) -> list[list[dict]]:
    for lane in lanes:
        assert decoder.submit(lane)
    decoder.run_until_idle()
    out = []
    for lane in lanes:
        events = []
        while not lane.queue.empty():
            events.append(lane.queue.get())
        out.append(events)
    return out


@pytest.mark.parametrize("cell", CELLS)
def test_each_cell_gets_its_fastest_stepper_and_greedy_text_equals_predict(cell):
    model = model_for(cell)
    expected = [o["text"] for o in predict(model, TOKENIZER, PROMPTS, length=12, temperature=0)]
    for batched in (True, False):
        decoder = Decoder(model, TOKENIZER, batched=batched)
        assert isinstance(decoder.stepper, STEPPER[cell] if batched else LoopStepper)
        runs = decode(decoder, [Lane(feed=TOKENIZER.encode(p).tolist(), length=12,
                                     sampling=SamplingConfig(0)) for p in PROMPTS])
        for events, text in zip(runs, expected):
            tokens, done = events[:-1], events[-1]
            assert [e["type"] for e in tokens] == ["token"] * 12 and done["type"] == "done"
            assert "".join(e["text"] for e in tokens) + done["rest"] == done["text"] == text


@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru", "mlp"])
def test_a_session_lane_ends_with_the_state_and_logits_of_the_forward_over_all_it_read(cell):
    model = model_for(cell, seed=1)
    text = "hello abc"
    decoder = Decoder(model, TOKENIZER, prefill_from=4)
    first = decode(decoder, [Lane(feed=TOKENIZER.encode("hel").tolist(), keep_state=True)])[0]
    done = first[-1]
    assert len(first) == 1 and done["type"] == "done" and done["tokens"] == 0
    # the second append continues from the state the first one left (two lanes together)
    other = Lane(feed=TOKENIZER.encode("pop").tolist(), keep_state=True)
    second = decode(decoder, [Lane(feed=TOKENIZER.encode("lo abc").tolist(), keep_state=True,
                                   state=done["state"]), other])[0][-1]
    with torch.inference_mode():
        logits, state = model(TOKENIZER.encode(text)[None, :])
    torch.testing.assert_close(second["logits"], logits[0, -1], atol=1e-5, rtol=0)
    for mine, theirs in zip(leaves(second["state"]), leaves(state)):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)


def test_lanes_join_and_leave_between_steps_without_disturbing_the_others():
    model = model_for("lstm", seed=2)
    decoder = Decoder(model, TOKENIZER)
    alone = decode(decoder, [Lane(feed=[3, 4], length=15, sampling=SamplingConfig(0))])[0]
    long = Lane(feed=[3, 4], length=15, sampling=SamplingConfig(0))
    short = [Lane(feed=[5 + k], length=k + 1, sampling=SamplingConfig(0)) for k in range(6)]
    decoder.submit(long)
    for lane in short:                  # one more lane joins at every step; each leaves early
        arrivals, decoder.arrivals = decoder.arrivals, []
        decoder.run_step(arrivals)
        decoder.submit(lane)
    decoder.run_until_idle()
    events = []
    while not long.queue.empty():
        events.append(long.queue.get())
    assert events[-1]["text"] == alone[-1]["text"]
    assert decoder.steps > 15 and decoder.rows > decoder.steps


def test_a_seed_gives_the_same_draws_batched_or_alone():
    model = model_for("lstm", seed=3)
    settings = SamplingConfig(temperature=1.2, top_k=8, seed=11)
    alone = decode(Decoder(model, TOKENIZER), [Lane(feed=[3], length=30, sampling=settings)])
    crowd = [Lane(feed=[3], length=30, sampling=settings)] + \
        [Lane(feed=[4 + k], length=30, sampling=SamplingConfig(1.0)) for k in range(7)]
    together = decode(Decoder(model, TOKENIZER), crowd)
    unbatched = decode(Decoder(model, TOKENIZER, batched=False),
                       [Lane(feed=[3], length=30, sampling=settings)])
    assert alone[0][-1]["text"] == together[0][-1]["text"] == unbatched[0][-1]["text"]


def test_draw_is_the_inverse_cdf_and_never_picks_a_removed_token():
    probs = torch.tensor([[0.5, 0.0, 0.25, 0.25], [0.0, 0.0, 1.0, 0.0]])
    assert draw(probs, [0.0, 0.3]) == [0, 2]
    assert draw(probs, [0.49, 0.99]) == [0, 2]
    assert draw(probs, [0.5, 0.0]) == [2, 2]
    assert draw(probs, [0.75, 0.9999999]) == [3, 2]
    rng = random.Random(0)
    counts = torch.zeros(4)
    for _ in range(200):
        for token in draw(probs[:1].expand(50, 4), [rng.random() for _ in range(50)]):
            counts[token] += 1
    assert counts[1] == 0
    torch.testing.assert_close(counts / counts.sum(), probs[0], atol=0.02, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_probe_reads_the_unit_the_cell_equations_give(cell):
    model = model_for(cell, seed=4)
    decoder = Decoder(model, TOKENIZER)
    names = ("h", "c", "i", "f", "o", "g") if cell == "lstm" else ("h", "r", "z", "n")
    assert decoder.probes == names
    lanes = [Lane(feed=[2, 3], length=6, sampling=SamplingConfig(0), probe=Probe(what, 1, 5))
             for what in names]
    runs = decode(decoder, lanes)
    text = TOKENIZER.decode([2, 3]) + runs[0][-1]["text"]
    ids = TOKENIZER.encode(text)
    # the reference: layer 1's cell stepped by hand over layer 0's outputs
    with torch.inference_mode():
        h0 = forward_layers(model.rnn, model.embed(ids[None, :]))[0][0]   # (1, T, H)
        cell1 = model.rnn.cells[1]
        H = cell1.hidden_size
        h = torch.zeros(1, H)
        c = torch.zeros(1, H)
        values = {n: [] for n in names}
        for t in range(ids.numel()):
            rnn = model.rnn                                # layer 1's torch.nn-named weights
            pre_x = h0[:, t] @ rnn.weight_ih_l1.T + rnn.bias_ih_l1        # (1, G*H)
            pre_h = h @ rnn.weight_hh_l1.T + rnn.bias_hh_l1
            if cell == "lstm":
                i, f, g, o = (pre_x + pre_h).chunk(4, -1)
                i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
                c = f * c + i * g
                h = o * c.tanh()
                step = {"h": h, "c": c, "i": i, "f": f, "o": o, "g": g}
            else:
                xr, xz, xn = pre_x.chunk(3, -1)
                hr, hz, hn = pre_h.chunk(3, -1)
                r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
                n = (xn + r * hn).tanh()
                h = (1 - z) * n + z * h
                step = {"h": h, "r": r, "z": z, "n": n}
            for name in names:
                values[name].append(float(step[name][0, 5]))
    generated = slice(2, 2 + 6)          # the probe is read while the model reads each sample
    for name, events in zip(names, runs):
        got = [e["value"] for e in events[:-1]]
        assert got == pytest.approx(values[name][generated], abs=1e-5), name


@pytest.mark.parametrize("cell", CELLS)
def test_states_stack_split_and_round_trip_through_bytes_exactly(cell):
    model = model_for(cell, seed=5)
    dims = batch_dims(model)
    with torch.inference_mode():
        states = [model(TOKENIZER.encode(t)[None, :])[1] for t in ("abc", "hij", "pop")]
    if cell == "mlp":                                      # a window of one step: nothing
        assert dims is None and states[0] is None
        assert state_from_bytes(state_to_bytes(None)) is None
        return
    if cell in ("cnn", "transformer"):
        assert all(d == 0 for d in leaves(dims))           # a window of inputs, (B, P, I)
    else:
        assert all(d == 1 for d in leaves(dims))           # (L, B, H)
    both = stack_states(states, dims)
    for back, state in zip(split_state(both, dims), states):
        assert all(torch.equal(a, b) for a, b in zip(leaves(back), leaves(state)))
    picked = select_rows(both, dims, torch.tensor([2, 0]))
    assert all(torch.equal(a, b) for a, b in zip(leaves(split_state(picked, dims)[0]),
                                                  leaves(states[2])))
    data = state_to_bytes(states[1])
    assert b"pickle" not in data and data[8:9] == b"{"      # a JSON header, then raw tensors
    again = state_from_bytes(data)
    assert type(again) is type(states[1])
    assert all(torch.equal(a, b) for a, b in zip(leaves(again), leaves(states[1])))
