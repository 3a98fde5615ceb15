"""The AWD-LSTM regularisers of the word language model (Merity, Keskar & Socher 2018): weight
drop, embedding dropout, locked dropout, AR/TAR, and NT-ASGD, each against a hand-built
reference; a run with all of them resumes bit-identically; bad values are one-line errors."""

import copy
import json
import signal

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import rnnkit.models.lm as lm_module
from rnnkit.data.stream import StreamBatcher
from rnnkit.errors import RnnkitError
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.nn.awd import activation_penalty, embedded_dropout, locked_dropout
from rnnkit.tasks.loading import load
from rnnkit.train.averaging import NTASGD, nonmonotone_trigger
from rnnkit.train.checkpoint import load_checkpoint_meta, load_trainer_state
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer
from rnnkit.train.losses import lm_loss

from conftest import make_text, run_cli
from test_cli import assert_one_line_error
from test_resume_tasks import interrupt_at

pytestmark = pytest.mark.usefixtures("one_thread")

V = 23


def tiny_lm(seed=0, **options) -> LanguageModel:
    torch.manual_seed(seed)
    return LanguageModel(LMConfig(vocab_size=V, embed_size=8, hidden_size=8, num_layers=2,
                                  **options))


def tokens(seed=1, shape=(3, 9)):
    return torch.randint(0, V, shape, generator=torch.Generator().manual_seed(seed))


# -- weight drop ----------------------------------------------------------------------------

def test_weight_drop_changes_training_outputs_and_leaves_evaluation_alone():
    lm, plain = tiny_lm(weight_drop=0.5), tiny_lm()
    x = tokens()
    first, _ = lm(x)
    second, _ = lm(x)
    assert not torch.equal(first, second)            # a fresh mask per forward
    lm.eval(), plain.eval()
    assert torch.equal(lm(x)[0], lm(x)[0])
    assert torch.equal(lm(x)[0], plain(x)[0])        # the same weights, nothing dropped


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])   # fused (lstm) and explicit paths
def test_weight_drop_equals_a_copy_holding_the_masked_matrices_in_outputs_and_gradients(
        cell, monkeypatch, python_loops):
    p = 0.4
    lm = tiny_lm(cell=cell, weight_drop=p)
    drawn = {}

    def recording(module, rate):
        dropped = real(module, rate)
        drawn.update({k: v.detach().clone() for k, v in dropped.items()})
        return dropped

    real = lm_module.weight_dropped
    monkeypatch.setattr(lm_module, "weight_dropped", recording)
    x = tokens()
    logits, _ = lm(x)
    weights = torch.randn_like(logits)
    (logits * weights).sum().backward()
    assert set(drawn) == {"weight_hh_l0", "weight_hh_l1"}

    reference = tiny_lm(cell=cell)                   # same initial weights, no weight drop
    with torch.no_grad():
        for name, dropped in drawn.items():
            getattr(reference.rnn, name).copy_(dropped)
    expected, _ = reference(x)
    (expected * weights).sum().backward()
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-6)
    for name, param in lm.named_parameters():
        ref = dict(reference.named_parameters())[name]
        short = name.removeprefix("rnn.")
        if short in drawn:                           # d/dW = d/dW' * mask / (1 - p)
            mask = (drawn[short] != 0).float() / (1 - p)
            torch.testing.assert_close(param.grad, ref.grad * mask, rtol=1e-5, atol=1e-6)
            assert param.grad.abs().sum() > 0
        else:
            torch.testing.assert_close(param.grad, ref.grad, rtol=1e-5, atol=1e-6)


# -- embedding and locked dropout ------------------------------------------------------------

def test_embedding_dropout_zeroes_whole_rows_and_rescales_the_rest():
    p, weight = 0.3, torch.randn(40, 5)
    torch.manual_seed(7)
    dropped = embedded_dropout(weight, p)
    torch.manual_seed(7)
    keep = torch.empty(40, 1).bernoulli_(1 - p)
    torch.testing.assert_close(dropped, weight * (keep / (1 - p)), rtol=0, atol=0)
    rows = dropped.abs().sum(1)
    assert 0 < int((rows == 0).sum()) < 40           # some words dropped, some kept


def test_the_model_looks_tokens_up_in_the_row_dropped_matrix():
    p = 0.5
    lm, reference = tiny_lm(embed_dropout=p), tiny_lm()
    x = tokens()
    torch.manual_seed(3)
    logits, _ = lm(x)
    torch.manual_seed(3)
    keep = torch.empty(V, 1).bernoulli_(1 - p)
    with torch.no_grad():
        reference.embed.weight.mul_(keep / (1 - p))
    torch.testing.assert_close(logits, reference(x)[0], rtol=0, atol=1e-6)


def test_locked_dropout_keeps_one_mask_over_time():
    x = torch.rand(4, 6, 5) + 0.5
    torch.manual_seed(0)
    y = locked_dropout(x, 0.5)
    mask = y / x                                     # (B, T, C): 0 or 2
    assert torch.equal(mask, mask[:, :1].expand_as(mask))
    assert set(mask.unique().tolist()) == {0.0, 2.0}


# -- AR / TAR ---------------------------------------------------------------------------------

def test_activation_penalty_equals_a_hand_computation():
    dropped, h = torch.randn(3, 7, 4), torch.randn(3, 7, 4)
    alpha, beta = 1.7, 0.6
    ar = sum(float(v) ** 2 for v in dropped.flatten()) / dropped.numel()
    diffs = [float(h[b, t + 1, k] - h[b, t, k]) ** 2
             for b in range(3) for t in range(6) for k in range(4)]
    expected = alpha * ar + beta * sum(diffs) / len(diffs)
    assert float(activation_penalty(dropped, h, alpha, beta)) == pytest.approx(expected,
                                                                                 rel=1e-5)


def test_the_model_penalises_its_last_layer_outputs_dropped_and_undropped():
    lm = tiny_lm(dropout=0.3, ar=2.0, tar=1.0)
    seen = {}
    lm.rnn.register_forward_hook(lambda m, args, out: seen.update(h=out[0].detach()))
    lm.head.register_forward_pre_hook(lambda m, args: seen.update(dropped=args[0].detach()))
    lm(tokens())
    h, dropped = seen["h"].double(), seen["dropped"].double()
    assert not torch.equal(h, dropped)               # the dropout before the head
    expected = 2.0 * dropped.pow(2).mean() + 1.0 * (h[:, 1:] - h[:, :-1]).pow(2).mean()
    assert float(lm.take_penalty().detach()) == pytest.approx(float(expected), rel=1e-5)
    assert lm.take_penalty() is None                 # taken once
    lm.eval()
    lm(tokens())
    assert lm.take_penalty() is None                 # training only


def test_the_trainer_minimises_the_penalty_but_logs_the_plain_loss():
    batch = next(iter(StreamBatcher(tokens(shape=(400,)).flatten(), 4, 8)))
    config = TrainConfig(steps=5, lr=0.5, warmup_steps=0, optimizer="sgd", eval_every=0)
    with_penalty = tiny_lm(ar=5.0, tar=5.0)
    plain = tiny_lm()
    a = Trainer(with_penalty, config, lm_loss, penalty=with_penalty.take_penalty).train_step(batch)
    b = Trainer(plain, config, lm_loss).train_step(batch)
    assert a["loss"] == b["loss"] and a["penalty"] > 0 and "penalty" not in b
    assert not torch.equal(with_penalty.rnn.weight_hh_l1, plain.rnn.weight_hh_l1)


# -- NT-ASGD ----------------------------------------------------------------------------------

def test_the_nonmonotone_trigger_fires_on_a_loss_worse_than_the_best_n_evaluations_ago():
    losses = [5.0, 4.0, 3.0, 3.1, 3.2, 3.05, 2.0, 9.0]
    watcher = NTASGD([torch.zeros(1)], n=2)
    fired = [watcher.observe(loss, step) for step, loss in enumerate(losses)]
    assert fired == [False, False, False, False, False, True, False, False]  # 3.05 > min(5,4,3)
    assert watcher.started_at == 5 and watcher.history == losses
    assert not nonmonotone_trigger([1.0, 2.0], 9.0, 2)      # needs more than n losses


def test_averaged_weights_are_the_mean_of_the_iterates_after_the_trigger():
    lm = tiny_lm()
    config = TrainConfig(steps=8, lr=0.5, warmup_steps=0, optimizer="sgd", eval_every=1,
                         asgd_nonmono=1)
    trainer = Trainer(lm, config, lm_loss)
    scripted = iter([2.0, 2.5, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # fires at the 3rd (step 3)
    evaluated, iterates = [], []

    def evaluate():
        evaluated.append([p.detach().clone() for p in lm.parameters()])
        return {"loss": next(scripted)}

    def on_step(metrics):
        iterates.append([p.detach().clone() for p in lm.parameters()])

    trainer.fit(StreamBatcher(tokens(shape=(600,)).flatten(), 4, 8), evaluate=evaluate,
                on_step=on_step, progress=False)
    assert trainer.asgd.started_at == 3
    after = iterates[3:]                              # updates 4..8
    mean = [torch.stack(ps).mean(0) for ps in zip(*after)]
    with trainer.averaged():
        for p, m in zip(lm.parameters(), mean):
            torch.testing.assert_close(p.detach(), m, rtol=1e-5, atol=1e-6)
    for p, raw in zip(lm.parameters(), iterates[-1]):        # raw weights back after the block
        assert torch.equal(p.detach(), raw)
    for seen, m in zip(evaluated[-1], mean):                 # the last evaluation: the average
        torch.testing.assert_close(seen, m, rtol=1e-5, atol=1e-6)
    for seen, raw in zip(evaluated[2], iterates[2]):         # before it: the raw weights
        assert torch.equal(seen, raw)


# -- the command line -------------------------------------------------------------------------

AWD = ["--optimizer", "sgd", "--lr", "20", "--warmup", "0", "--dropout", "0.3",
       "--weight-drop", "0.3", "--embed-dropout", "0.1", "--locked-dropout", "--ar", "1",
       "--tar", "1", "--asgd", "--asgd-nonmono", "1", "--eval-every", "1"]


def small_run(tmp_path) -> list[str]:
    (tmp_path / "text.txt").write_text(make_text(400), encoding="utf-8")
    return ["train", "lm", "--data", str(tmp_path / "text.txt"), "--seq-len", "8", "--hidden",
            "8", "--embed", "8", "--batch-size", "16", "--no-progress", "--steps", "10", *AWD]


def test_a_stopped_and_resumed_awd_run_ends_with_the_weights_of_an_unstopped_one(
        capsys, tmp_path, monkeypatch):
    flags = small_run(tmp_path)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_cli(capsys, *flags, "--out", str(whole))[0] == 0
    records = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    started = [r["step"] for r in records if r.get("asgd_starts")]
    assert started and started[0] < 6                  # the stop below falls inside averaging
    assert any("penalty" in r for r in records if r["kind"] == "train")

    interrupt_at(monkeypatch, 6, signal.SIGTERM, "end")
    code, _, err = run_cli(capsys, *flags, "--out", str(parts))
    assert code == 128 + signal.SIGTERM and "stopped at step 6" in err
    monkeypatch.undo()
    assert run_cli(capsys, "train", "--resume", str(parts), "--no-progress")[0] == 0

    a, b = load_file(whole / "model.safetensors"), load_file(parts / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    evals = [[r for r in (json.loads(line) for line in (run / "metrics.jsonl").read_text()
                          .splitlines()) if r["kind"] == "eval"] for run in (whole, parts)]
    assert [r["loss"] for r in evals[0]] == [r["loss"] for r in evals[1]]

    model, _ = load(whole)                             # the saved weights are the average,
    asgd = load_trainer_state(whole)["asgd"]           # the raw ones are in the trainer state
    for p, mean, raw in zip(model.parameters(), asgd["average"]["mean"], asgd["raw"]):
        assert torch.equal(p.detach(), mean)
    assert any(not torch.equal(mean, raw) for mean, raw in zip(asgd["average"]["mean"],
                                                                asgd["raw"]))


def test_a_run_without_the_regularisers_saves_the_metadata_it_saved_before_them(capsys,
                                                                                 tmp_path):
    flags = small_run(tmp_path)[:-len(AWD)]
    assert run_cli(capsys, *flags, "--steps", "2", "--out", str(tmp_path / "run"))[0] == 0
    model = load_checkpoint_meta(tmp_path / "run")["model"]
    assert not {"weight_drop", "embed_dropout", "locked_dropout", "ar", "tar"} & model.keys()
    trainer = json.loads(next((tmp_path / "run" / "checkpoints").glob("*/trainer.json"))
                         .read_text())
    assert "asgd" not in trainer["state"]


@pytest.mark.parametrize("extra,needle", [
    (["--weight-drop", "1"], "--weight-drop: must be in [0, 1)"),
    (["--embed-dropout", "-0.1"], "--embed-dropout: must be in [0, 1)"),
    (["--ar", "-2"], "--ar: must be >= 0"),
    (["--tar", "-1"], "--tar: must be >= 0"),
    (["--cell", "transformer", "--weight-drop", "0.2"], "transformer has none"),
    (["--cell", "mingru", "--weight-drop", "0.2"], "mingru has none"),
    (["--cell", "mlp", "--ar", "1"], "mlp is not recurrent"),
    (["--cell", "cnn", "--tar", "1"], "cnn is not recurrent"),
    (["--cell", "transformer", "--locked-dropout", "--dropout", "0.1"], "not recurrent"),
    (["--locked-dropout"], "give a dropout rate"),
    (["--asgd"], "--optimizer sgd"),
    (["--asgd", "--optimizer", "sgd", "--eval-every", "0"], "--eval-every N > 0"),
    (["--asgd-nonmono", "3"], "give --asgd too"),
    (["--asgd", "--optimizer", "sgd", "--asgd-nonmono", "0"], "--asgd-nonmono: must be"),
])
def test_bad_regulariser_settings_are_one_line_errors(extra, needle, capsys, tmp_path):
    flags = small_run(tmp_path)[:-len(AWD)]
    code, _, err = run_cli(capsys, *flags, *extra, "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, needle)


@pytest.mark.parametrize("field,value", [("weight_drop", 1.0), ("embed_dropout", -0.5),
                                         ("ar", -1.0), ("tar", float("nan"))])
def test_the_model_config_refuses_bad_rates(field, value):
    with pytest.raises(RnnkitError, match=field):
        LMConfig(vocab_size=5, **{field: value})
