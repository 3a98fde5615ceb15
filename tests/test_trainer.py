import collections
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.data.batch import SequenceBatch, StreamBatch
from rnnkit.data.stream import StreamBatcher, eval_windows
from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import load_model_weights, load_trainer_state, save_checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer, detach_state, evaluate_loss, make_optimizer, bpc_postfix
from rnnkit.train.metrics import MetricsLog, plot_learning_curve, read_metrics
from rnnkit.train.schedule import warmup_cosine_factor

VOCAB = 6


pytestmark = pytest.mark.usefixtures("one_thread")


class TinyGRU(nn.Module):
    """Embedding -> GRU -> linear; records the states it is given (for the TBPTT tests)."""

    def __init__(self, hidden: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, VOCAB)
        self.on_embed = None  # test hook: called with the (B, T, H) embeddings

    def forward(self, x, state):  # x: (B, T); state: (1, B, H) or None
        e = self.embed(x)  # (B, T, H)
        if self.on_embed is not None:
            self.on_embed(e)
        y, h = self.rnn(self.drop(e), state)  # (B, T, H), (1, B, H)
        return self.head(self.drop(y)), h  # (B, T, V)


def lm_loss(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make_model(seed=0, **kw):
    torch.manual_seed(seed)
    return TinyGRU(**kw)


def cfg(**kw):
    base = dict(steps=20, lr=1e-2, warmup_steps=2, log_every=5, eval_every=0, seed=0)
    return TrainConfig(**{**base, **kw})


def pattern_stream(n=2000):
    return torch.tensor([0, 0, 0, 1] * (n // 4))  # "aaab": the next token needs a count


def random_stream(n=1200, seed=1):
    return torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed))


def test_loss_falls_on_a_pattern_that_needs_memory():
    model = make_model()
    trainer = Trainer(model, cfg(steps=150, lr=2e-2, warmup_steps=10), lm_loss)
    losses = []
    trainer.fit(StreamBatcher(pattern_stream(), 4, 16), on_step=lambda m: losses.append(m["loss"]),
                progress=False)
    # A memoryless predictor cannot go below 0.75 * H(2/3, 1/3) = 0.477 nats on "aaab".
    assert losses[0] > 1.0
    assert sum(losses[-10:]) / 10 < 0.1


def test_detach_state_handles_nested_tuples_and_none():
    Pair = collections.namedtuple("Pair", "h c")
    x = torch.randn(2, 3, requires_grad=True)
    state = (x * 2, [x * 3, Pair(x * 4, x * 5)])
    out = detach_state(state)
    assert isinstance(out, tuple) and isinstance(out[1], list) and isinstance(out[1][1], Pair)
    leaves = [out[0], out[1][0], out[1][1].h, out[1][1].c]
    assert all(t.grad_fn is None and not t.requires_grad for t in leaves)
    assert torch.equal(out[1][1].c, x.detach() * 5)
    assert detach_state(None) is None


def test_tbptt_carries_detached_state_and_backward_stays_in_its_window():
    model = make_model()
    seen_states, returned = [], []
    forward = model.forward

    def recording_forward(x, state):
        seen_states.append(state)
        out, h = forward(x, state)
        returned.append(h)
        return out, h

    model.forward = recording_forward
    window = {"k": -1}
    reached = []

    def hook(e):
        window["k"] += 1
        k = window["k"]
        e.register_hook(lambda grad: reached.append(k))

    model.on_embed = hook
    trainer = Trainer(model, cfg(), lm_loss)
    batcher = StreamBatcher(random_stream(), 2, 8)
    it = iter(batcher)
    for _ in range(6):
        trainer.train_step(next(it))
    assert reached == [0, 1, 2, 3, 4, 5]  # window k's backward never reaches window k-1
    assert seen_states[0] is None  # first window of the pass: reset
    for k in range(1, 6):
        carried = seen_states[k]
        assert carried.grad_fn is None and not carried.requires_grad
        assert torch.equal(carried, returned[k - 1].detach())
    assert trainer.state.grad_fn is None


def test_independent_sequences_start_from_zero_state():
    model = make_model()
    seen = []
    forward = model.forward
    model.forward = lambda x, state: (seen.append(state), forward(x, state))[1]
    trainer = Trainer(model, cfg(), lm_loss)
    x = torch.randint(0, VOCAB, (3, 5))
    for _ in range(3):
        trainer.train_step(SequenceBatch(x, x))
    assert seen == [None, None, None]


def test_nan_loss_is_skipped_counted_and_leaves_weights_unchanged():
    model = make_model()
    calls = {"n": 0}

    def flaky_loss(out, y):
        calls["n"] += 1
        loss = lm_loss(out, y)
        return loss * float("nan") if calls["n"] == 3 else loss

    trainer = Trainer(model, cfg(), flaky_loss)
    it = iter(StreamBatcher(random_stream(), 2, 8))
    m1, m2 = trainer.train_step(next(it)), trainer.train_step(next(it))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    m3 = trainer.train_step(next(it))
    assert not m1["skipped"] and not m2["skipped"]
    assert m3["skipped"] and math.isnan(m3["loss"]) and m3["step"] == 2 and m3["bad_steps"] == 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert trainer.state is None  # the carried state is dropped after a bad step
    assert trainer.bad_steps_in_a_row == 1
    m4 = trainer.train_step(next(it))
    assert not m4["skipped"] and m4["step"] == 3
    assert trainer.bad_steps_total == 1 and trainer.bad_steps_in_a_row == 0


class _InfGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("inf"))


def test_infinite_gradient_with_finite_loss_is_skipped():
    model = make_model()
    trainer = Trainer(model, cfg(), lambda out, y: lm_loss(_InfGrad.apply(out), y))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    m = trainer.train_step(next(iter(StreamBatcher(random_stream(), 2, 8))))
    assert m["skipped"] and math.isfinite(m["loss"]) and not math.isfinite(m["grad_norm"])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_consecutive_nan_losses_stop_training_with_one_line_error():
    model = make_model()
    trainer = Trainer(model, cfg(max_bad_steps=3), lambda out, y: lm_loss(out, y) * float("nan"))
    with pytest.raises(RnnkitError, match=r"training diverged: 3 non-finite losses in a row at "
                                          r"step 0; try a lower --lr or --clip"):
        trainer.fit(StreamBatcher(random_stream(), 2, 8), progress=False)
    assert trainer.bad_steps_total == 3


def _resume_parts(tmp_path):
    config = cfg(steps=8, warmup_steps=3)
    ids = random_stream(2000)

    losses_a = []
    model_a = make_model(dropout=0.2)
    Trainer(model_a, config, lm_loss).fit(
        StreamBatcher(ids, 3, 10), on_step=lambda m: losses_a.append(m["loss"]), progress=False
    )

    model_b = make_model(dropout=0.2)
    trainer_b = Trainer(model_b, config, lm_loss)
    batcher_b = StreamBatcher(ids, 3, 10)
    it = iter(batcher_b)
    losses_b = [trainer_b.train_step(next(it))["loss"] for _ in range(4)]
    save_checkpoint(tmp_path, model_b, {**trainer_b.state_dict(), "data": batcher_b.state_dict()},
                    meta={"note": "half-way"})

    model_c = make_model(seed=99, dropout=0.2)  # different initial weights, overwritten on load
    trainer_c = Trainer(model_c, config, lm_loss)
    batcher_c = StreamBatcher(ids, 3, 10)
    load_model_weights(tmp_path, model_c)
    state = load_trainer_state(tmp_path)
    trainer_c.load_state_dict(state)
    batcher_c.load_state_dict(state["data"])
    trainer_c.fit(batcher_c, on_step=lambda m: losses_b.append(m["loss"]), progress=False)
    return losses_a, losses_b, model_a, model_c


def test_resume_from_checkpoint_reproduces_uninterrupted_run_exactly(tmp_path):
    losses_a, losses_b, model_a, model_c = _resume_parts(tmp_path)
    assert len(losses_a) == len(losses_b) == 8
    assert losses_a == losses_b  # bit-identical in float32 on CPU
    for (name, a), c in zip(model_a.state_dict().items(), model_c.state_dict().values()):
        assert torch.equal(a, c), name


def test_resume_with_more_steps_follows_the_new_schedule():
    model = make_model()
    trainer = Trainer(model, cfg(steps=10, warmup_steps=2), lm_loss)
    it = iter(StreamBatcher(random_stream(), 2, 8))
    for _ in range(5):
        trainer.train_step(next(it))
    state = trainer.state_dict()
    longer = Trainer(model, cfg(steps=100, warmup_steps=2, lr=1e-2), lm_loss)
    longer.load_state_dict(state)
    assert longer.step == 5
    expected = 1e-2 * warmup_cosine_factor(5, 2, 100, 0.1)
    assert longer.optimizer.param_groups[0]["lr"] == pytest.approx(expected)


def _grad_norm(model):
    return float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())))


def test_grad_norm_is_logged_without_clipping():
    model = make_model()
    trainer = Trainer(model, cfg(clip_norm=None), lm_loss)
    m = trainer.train_step(next(iter(StreamBatcher(random_stream(), 2, 8))))
    assert m["clipped"] is False and m["grad_norm"] > 0
    assert m["grad_norm"] == pytest.approx(_grad_norm(model), rel=1e-5)  # grads left unclipped


def test_clipping_fires_and_rescales_to_the_clip_norm():
    model = make_model()
    trainer = Trainer(model, cfg(clip_norm=1e-3), lm_loss)
    m = trainer.train_step(next(iter(StreamBatcher(random_stream(), 2, 8))))
    assert m["clipped"] is True and m["grad_norm"] > 1e-3  # the logged norm is pre-clip
    assert _grad_norm(model) == pytest.approx(1e-3, rel=1e-3)


def test_large_clip_norm_does_not_fire():
    model = make_model()
    trainer = Trainer(model, cfg(clip_norm=1e6), lm_loss)
    m = trainer.train_step(next(iter(StreamBatcher(random_stream(), 2, 8))))
    assert m["clipped"] is False and m["grad_norm"] == pytest.approx(_grad_norm(model), rel=1e-5)


def test_weight_decay_only_on_matrices():
    model = make_model()
    groups = make_optimizer(model, cfg(weight_decay=0.1)).param_groups
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == (p.ndim >= 2), name


def test_warmup_then_cosine_down_to_the_floor():
    f = [warmup_cosine_factor(s, 4, 20, 0.1) for s in range(25)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[4:], f[5:]))
    assert f[19] == pytest.approx(0.1) and f[24] == pytest.approx(0.1)


def test_fit_logs_metrics_evaluates_periodically_and_at_the_end(tmp_path):
    model = make_model()
    log = MetricsLog(tmp_path / "metrics.jsonl")
    val = random_stream(300, seed=5)
    evaluated = []

    def evaluate():
        evaluated.append(True)
        return evaluate_loss(model, lm_loss, eval_windows(val, 2, 8))

    trainer = Trainer(model, cfg(steps=6, log_every=2, eval_every=3), lm_loss)
    result = trainer.fit(StreamBatcher(random_stream(), 2, 8), evaluate=evaluate, log=log,
                         postfix=bpc_postfix, progress=True)
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [(r["kind"], r["step"]) for r in records] == [
        ("train", 2), ("eval", 3), ("train", 4), ("train", 6), ("eval", 6)
    ]
    assert len(evaluated) == 2 and result == {k: records[-1][k] for k in result}
    for r in (r for r in records if r["kind"] == "train"):
        assert {"loss", "loss_avg", "grad_norm", "clipped", "lr", "tokens_per_s"} <= r.keys()
    assert set(bpc_postfix(records[0], records[1])) == {"loss", "bpc", "tok/s", "val_bpc"}
    png = plot_learning_curve(records, tmp_path / "curve.png", bpc=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluation_with_carried_state_equals_one_long_window():
    model = make_model(dropout=0.5)  # evaluate_loss must switch dropout off
    val = random_stream(402, seed=7)
    short = evaluate_loss(model, lm_loss, eval_windows(val, 2, 7))
    whole = evaluate_loss(model, lm_loss, eval_windows(val, 2, 1000))
    assert short["tokens"] == whole["tokens"] == 400
    assert short["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    assert model.training


def test_fit_cycles_a_finite_list_but_not_an_exhausted_generator():
    x = torch.randint(0, VOCAB, (2, 5))
    trainer = Trainer(make_model(), cfg(steps=5), lm_loss)
    trainer.fit([SequenceBatch(x, x), SequenceBatch(x, x)], progress=False)
    assert trainer.step == 5
    trainer = Trainer(make_model(), cfg(steps=5), lm_loss)
    with pytest.raises(RnnkitError, match="batches ran out at step 2 of 5"):
        trainer.fit((SequenceBatch(x, x) for _ in range(2)), progress=False)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(steps=0), "steps must be a positive integer"),
        (dict(lr=0.0), "learning rate must be > 0"),
        (dict(lr=float("nan")), "learning rate must be > 0"),
        (dict(clip_norm=0.0), "clip norm must be > 0"),
        (dict(max_bad_steps=0), "max_bad_steps must be >= 1"),
        (dict(betas=(0.9, 1.0)), "betas"),
        (dict(min_lr_ratio=1.5), "min_lr_ratio"),
        (dict(warmup_steps=-1), "warm-up steps"),
    ],
)
def test_config_rejects_bad_values_with_one_line(bad, message):
    with pytest.raises(RnnkitError, match=message) as e:
        TrainConfig(**bad)
    assert "\n" not in str(e.value)


def test_sgd_takes_plain_gradient_steps_with_l2_decay_on_matrices_only():
    model = make_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = Trainer(model, cfg(optimizer="sgd", lr=0.5, weight_decay=0.1, warmup_steps=0,
                                 clip_norm=None), lm_loss)
    assert type(trainer.optimizer) is torch.optim.SGD
    batch = next(iter(StreamBatcher(random_stream(), 4, 8)))
    outputs, _ = model(batch.inputs, None)
    lm_loss(outputs, batch.targets).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    trainer.train_step(batch)
    for name, p in model.named_parameters():
        decay = 0.1 * before[name] if p.ndim >= 2 else 0.0
        torch.testing.assert_close(p.detach(), before[name] - 0.5 * (grads[name] + decay))


def test_unknown_optimizer_is_refused_in_one_line():
    with pytest.raises(RnnkitError, match="optimizer must be one of adamw, sgd"):
        TrainConfig(optimizer="adam")
