import itertools

import pytest
import torch

from rnnkit.data.batch import SequenceBatch, StreamBatch
from rnnkit.data.stream import StreamBatcher, eval_windows, split_tail
from rnnkit.errors import RnnkitError


def test_split_tail_holds_out_the_last_fraction():
    ids = torch.arange(100)
    train, val = split_tail(ids, 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    train, val = split_tail(ids, 0.0)
    assert train.numel() == 100 and val.numel() == 0


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_split_tail_rejects_bad_fraction(fraction):
    with pytest.raises(RnnkitError, match="validation fraction"):
        split_tail(torch.arange(10), fraction)


def test_lanes_are_contiguous_slices_of_the_stream():
    b = StreamBatcher(torch.arange(23), batch_size=3, seq_len=2)
    assert b.lanes.shape == (3, 7)  # 23 // 3 = 7, the last 2 tokens are dropped
    assert b.lanes[1].tolist() == list(range(7, 14))


def test_targets_are_inputs_shifted_by_one_and_windows_continue_lanes():
    ids = torch.arange(40)
    b = StreamBatcher(ids, batch_size=2, seq_len=4)  # lanes of 20: windows at p = 0, 4, 8, 12
    assert b.windows_per_epoch == 4
    windows = list(itertools.islice(iter(b), 4))
    for k, w in enumerate(windows):
        assert isinstance(w, StreamBatch)
        assert w.inputs.shape == w.targets.shape == (2, 4)
        assert w.inputs.dtype == torch.long
        assert torch.equal(w.targets[:, :-1], w.inputs[:, 1:])
        assert w.inputs[:, 0].tolist() == [4 * k, 20 + 4 * k]
        assert w.reset == (k == 0)
    assert windows[-1].targets[:, -1].tolist() == [16, 36]  # the ragged end (17..19) is skipped


def test_wrap_counts_an_epoch_and_flags_reset():
    b = StreamBatcher(torch.arange(40), batch_size=2, seq_len=4)
    it = iter(b)
    resets = [next(it).reset for _ in range(9)]
    assert resets == [True, False, False, False, True, False, False, False, True]
    assert b.epoch == 2


def test_resumed_batcher_yields_the_same_next_window():
    ids = torch.randint(0, 50, (500,))
    a = StreamBatcher(ids, batch_size=4, seq_len=8)
    it = iter(a)
    for _ in range(17):
        next(it)
    saved = a.state_dict()
    expected = [next(it) for _ in range(5)]

    b = StreamBatcher(ids, batch_size=4, seq_len=8)
    b.load_state_dict(saved)
    got = list(itertools.islice(iter(b), 5))
    assert b.epoch == a.epoch
    for e, g in zip(expected, got):
        assert torch.equal(e.inputs, g.inputs) and torch.equal(e.targets, g.targets)
        assert e.reset == g.reset


def test_load_state_from_other_sizes_is_refused():
    ids = torch.arange(200)
    saved = StreamBatcher(ids, batch_size=4, seq_len=8).state_dict()
    with pytest.raises(RnnkitError, match="batch size 4"):
        StreamBatcher(ids, batch_size=2, seq_len=8).load_state_dict(saved)


def test_too_short_stream_says_what_is_needed():
    with pytest.raises(RnnkitError, match=r"need 330 tokens but there are 100; use a smaller --seq-len"):
        StreamBatcher(torch.arange(100), batch_size=10, seq_len=32)


def test_eval_windows_cover_every_target_once_in_order():
    ids = torch.arange(43)
    windows = list(eval_windows(ids, batch_size=2, seq_len=5))  # lanes of 21 -> 20 targets each
    assert [w.reset for w in windows] == [True, False, False, False]
    assert [w.inputs.shape[1] for w in windows] == [5, 5, 5, 5]
    targets = torch.cat([w.targets for w in windows], dim=1)
    assert targets.tolist() == [list(range(1, 21)), list(range(22, 42))]
    windows = list(eval_windows(torch.arange(24), batch_size=2, seq_len=5))  # 11 targets a lane
    assert [w.inputs.shape[1] for w in windows] == [5, 5, 1]


def test_eval_windows_check_length_eagerly():
    with pytest.raises(RnnkitError, match="validation text is too short"):
        eval_windows(torch.arange(5), batch_size=4, seq_len=8)


def test_sequence_batch_always_resets():
    batch = SequenceBatch(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    assert batch.reset is True and batch.lengths is None
