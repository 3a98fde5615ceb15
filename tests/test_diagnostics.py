"""Gradient-flow diagnostics: the probe measures dL/dh_t exactly, costs nothing when off, and
the run folder gets its records, figures and summary."""

import json

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.data.batch import SequenceBatch
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.models.encoders import build_encoder
from rnnkit.models.state_probe import perturbed_layers
from rnnkit.train.diagnostics import (encoders_of, exposed_layers, gradient_flow, summarize,
                                      vanishing_factor)
from rnnkit.train.losses import lm_loss

from conftest import TINY_FLAGS


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "mingru"])
def test_perturbed_run_equals_forward_and_its_gradient_is_the_bptt_state_gradient(cell):
    torch.manual_seed(0)
    enc = build_encoder(cell, 3, 4, 2).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y, _ = enc(x)
    y2, _, eps = perturbed_layers(enc, x)
    torch.testing.assert_close(y2, y)
    # d(y_T . w)/d eps^top_{T-1} = w directly; at t < T-1 it must go through the recurrence
    w = torch.randn(4, dtype=torch.float64)
    (g,) = torch.autograd.grad((y2[:, -1] @ w).sum(), [eps[-1]], retain_graph=True)
    torch.testing.assert_close(g[:, -1], w.expand(2, 4))
    assert g[:, 0].abs().sum() > 0                       # the layer's own recurrence carries it
    # a finite-difference check of one entry: nudging h^1_2 changes the final output
    (g1,) = torch.autograd.grad((y2[:, -1] @ w).sum(), [eps[0]])
    delta = torch.zeros_like(eps[0])
    delta[0, 2, 1] = 1e-6
    y3, _, _ = _nudged(enc, x, delta)
    numeric = ((y3[:, -1] - y2[:, -1]) @ w)[0] / 1e-6
    torch.testing.assert_close(numeric, g1[0, 2, 1], rtol=1e-4, atol=1e-8)


def _nudged(enc, x, delta):
    """perturbed_layers with eps^1 = delta instead of zeros."""
    import rnnkit.models.state_probe as probe
    original = probe._eps
    calls = iter([delta, None])

    def eps(x_, size):
        nudge = next(calls)
        return original(x_, size) if nudge is None else nudge.clone().requires_grad_()
    probe._eps = eps
    try:
        return perturbed_layers(enc, x)
    finally:
        probe._eps = original


def test_probe_leaves_the_model_as_it_was_and_its_parameter_gradients_untouched():
    torch.manual_seed(1)
    lm = LanguageModel(LMConfig(vocab_size=9, cell="gru", embed_size=4, hidden_size=6,
                                num_layers=2))
    batch = SequenceBatch(torch.randint(0, 9, (3, 12)), torch.randint(0, 9, (3, 12)))
    norms, bad = gradient_flow(lm, lm_loss, batch)
    assert norms.shape == (2, 12) and bad == 0 and (norms > 0).all()
    assert all(p.grad is None for p in lm.parameters())
    assert "forward" not in vars(encoders_of(lm)[0]) and lm.training
    # an Elman/GRU gradient fades with distance from the loss at init
    assert vanishing_factor(norms[0]) < 1


def test_window_mlp_gradient_is_zero_beyond_its_window():
    torch.manual_seed(2)
    lm = LanguageModel(LMConfig(vocab_size=9, cell="mlp", embed_size=4, hidden_size=6,
                                num_layers=1))
    lm.rnn = build_encoder("mlp", 4, 6, 1, window=3)
    batch = SequenceBatch(torch.randint(0, 9, (3, 10)), torch.randint(0, 9, (3, 10)))
    norms, _ = gradient_flow(lm, lm_loss, batch)
    assert (norms[0, :-1] == 0).all() and norms[0, -1] > 0   # one layer: only its own position


def test_taps_are_collected_for_every_layer_of_every_encoder():
    lm = LanguageModel(LMConfig(vocab_size=5, cell="transformer", embed_size=8, hidden_size=8,
                                num_layers=3))
    with exposed_layers(lm) as taps:
        lm(torch.randint(0, 5, (2, 4)))
    assert len(taps) == 3 and all(t.shape == (2, 4, 8) for t in taps)


def test_summary_counts_clipping_largest_norm_and_bad_steps():
    metrics = [
        {"kind": "train", "step": 10, "window_steps": 10, "clipped_steps": 4,
         "grad_norm_max": 7.5, "bad_steps": 0},
        {"kind": "train", "step": 10, "window_steps": 1, "clipped_steps": 0,
         "grad_norm_max": 0.0, "grad_norm": None, "bad_steps": 1},
        {"kind": "eval", "step": 10, "loss": 1.0},
    ]
    s = summarize(metrics, None, cell="rnn")
    assert s["steps"] == 11 and s["clip_share"] == pytest.approx(4 / 11)
    assert s["max_grad_norm"] == 7.5 and s["bad_steps"] == 1 and s["recurrent_state"]


def test_diagnose_every_and_rnnkit_diagnose_write_the_figures(tmp_path, tiny_text, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_text), "--out", str(out), *TINY_FLAGS,
                 "--cell", "rnn", "--diagnose-every", "2"]) == 0
    lines = (out / "gradient_flow.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4, 6]
    for name in ("gradient_heatmap.png", "gradient_distance.png", "diagnostics.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "diagnostics.json").read_text())
    assert summary["steps"] == 6 and summary["probes"] == 3 and summary["bad_steps"] == 0
    capsys.readouterr()
    assert main(["diagnose", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "vanishing factor" in printed and "clipping fired" in printed
    assert len((out / "gradient_flow.jsonl").read_text().splitlines()) == 4


def test_diagnose_every_on_a_stateless_model_says_what_it_measures(tmp_path, tiny_text, capsys):
    code = main(["train", "--data", str(tiny_text), "--out", str(tmp_path / "run"),
                 *TINY_FLAGS, "--cell", "cnn", "--diagnose-every", "3"])
    err = capsys.readouterr().err
    assert code == 0
    assert "no recurrent state" in err and "receptive field" in err
    assert (tmp_path / "run" / "gradient_heatmap.png").is_file()


def test_diagnose_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a run folder" in err


TASK_FLAGS = ["--hidden", "8", "--embed", "8", "--batch-size", "8", "--no-progress",
              "--steps", "6", "--lr", "0.01"]


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_diagnose_every_and_rnnkit_diagnose_work_for_classify_and_tag_runs(tmp_path, capsys,
                                                                           task):
    from task_fixtures import write_conllu, write_csv
    data = write_csv(tmp_path / "r.csv", n=40) if task == "classify" else \
        write_conllu(tmp_path / "t.conllu", n=30)
    out = tmp_path / "run"
    extra = ["--char-hidden", "4"] if task == "tag" else []
    assert main(["train", "--task", task, "--data", str(data), "--out", str(out), *TASK_FLAGS,
                 *extra, "--cell", "gru", "--diagnose-every", "3"]) == 0
    lines = (out / "gradient_flow.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [3, 6]
    for name in ("gradient_heatmap.png", "gradient_distance.png", "diagnostics.json"):
        assert (out / name).is_file(), name
    capsys.readouterr()
    assert main(["diagnose", str(out), "--batch-size", "4"]) == 0
    printed = capsys.readouterr().out
    assert "vanishing factor" in printed and "sequences:" in printed
    record = json.loads((out / "gradient_flow.jsonl").read_text().splitlines()[-1])
    assert len(record["layers"]) == 1 and all(v >= 0 for v in record["layers"][0])
