"""A classifier scored again: on its validation cut (``rnnkit evaluate RUN --validation``), with
post-hoc logit adjustment (``--logit-adjust TAU``), and a classifier trained on its whole
training part (``--val-fraction 0``)."""

import json
import random
from collections import Counter

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.data.datasets import load_dataset
from rnnkit.train.run_folder import read_run_config
from rnnkit.train.task_data import encode_split
from rnnkit.train.task_eval import adjust_logits, evaluation_split, predict_logits

from conftest import run_cli
from test_cli import assert_one_line_error

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ["--hidden", "8", "--embed", "8", "--layers", "1", "--batch-size", "8",
         "--no-progress"]


def write_skewed_csv(path, n=80, seed=0):
    """Three labels in the ratio 6 : 3 : 1, each text holding a word its label favours."""
    rng = random.Random(seed)
    cue = {"common": "sun", "middle": "rain", "rare": "snow"}
    lines = ["label,text"]
    for i in range(n):
        label = ("common",) * 6 + ("middle",) * 3 + ("rare",)
        label = label[i % 10]
        words = [rng.choice("the a day walk road cold".split()) for _ in range(3)]
        words.insert(rng.randint(0, 3), cue[label] if rng.random() < 0.6 else
                     rng.choice(list(cue.values())))
        lines.append(f"{label},{' '.join(words)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_skewed(capsys, tmp_path, name: str, *flags: str):
    """(data file, run folder, stdout) of a tiny classifier trained on write_skewed_csv."""
    data = write_skewed_csv(tmp_path / "skewed.csv")
    run = tmp_path / name
    code, out, err = run_cli(capsys, "train", "classify", "--data", str(data), *SMALL, *flags,
                             "--out", str(run))
    assert code == 0, err
    return data, run, out


@pytest.fixture
def skewed_run(capsys, tmp_path):
    return train_skewed(capsys, tmp_path, "clf", "--steps", "6", "--val-fraction", "0.25")[:2]


def test_logit_adjustment_matches_a_hand_computation_on_the_validation_cut(capsys,
                                                                          skewed_run):
    data, run = skewed_run
    tau = 0.7
    code, out, err = run_cli(capsys, "evaluate", str(run), "--validation", "--logit-adjust",
                             str(tau))
    assert code == 0, err
    assert "validation cut" in out and "adjusted by -0.7" in out
    report = json.loads((run / "evaluation_validation.json").read_text())
    assert report["logit_adjust"] == tau
    assert not (run / "evaluation.json").exists() or \
        "validation" not in json.loads((run / "evaluation.json").read_text())["data"]

    # by hand: the prior counts the training part's labels less the validation cut's
    config = read_run_config(run)
    _, held = evaluation_split(config, None, "validation")
    whole = load_dataset(str(data), test_fraction=0.2, seed=0).train
    counts = Counter(whole.targets) - Counter(held.targets)
    model, codec = rnnkit.load(run)
    labels = codec.labels.labels
    prior = np.array([counts[y] for y in labels], dtype=float) / sum(counts.values())
    inputs, targets = encode_split(codec, held, what="validation")
    logits = torch.stack(predict_logits(model, inputs)).double().numpy()       # (N, K)
    predicted = (logits - tau * np.log(prior)).argmax(1)
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(confusion, (np.array(targets), predicted), 1)
    assert report["confusion"] == confusion.tolist()
    assert report["accuracy"] == pytest.approx(float((predicted == np.array(targets)).mean()))
    assert report["count"] == len(held) == 17           # a quarter of each label of the 63


def test_a_large_tau_predicts_the_rarest_label(capsys, skewed_run):
    _, run = skewed_run
    assert run_cli(capsys, "evaluate", str(run), "--logit-adjust", "1000")[0] == 0
    report = json.loads((run / "evaluation.json").read_text())
    counts = np.array(report["confusion"]).sum(0)       # predictions per label
    rare = [r["label"] for r in report["per_class"]].index("rare")
    assert counts[rare] == counts.sum()


def test_adjusting_with_tau_zero_or_a_flat_prior_changes_no_prediction():
    logits = [torch.randn(5), torch.randn(7, 5)]
    for prior, tau in ((torch.tensor([0.1, 0.2, 0.3, 0.3, 0.1]), 0.0), (torch.full((5,), 0.2),
                                                                          1.5)):
        for a, b in zip(adjust_logits(logits, prior, tau), logits):
            assert torch.equal(a.argmax(-1), b.argmax(-1))


def test_a_run_on_its_whole_training_part_has_no_validation_cut(capsys, tmp_path):
    data, run, out = train_skewed(capsys, tmp_path, "whole", "--steps", "3",
                                  "--val-fraction", "0")
    assert "validation accuracy" not in out and "test: accuracy" in out
    examples = read_run_config(run)["examples"]
    assert examples == {"train": 63, "validation": 0, "test": 17}     # stratified test split
    code, _, err = run_cli(capsys, "evaluate", str(run), "--validation")
    assert_one_line_error(code, err, "no validation cut")
    code, _, err = run_cli(capsys, "evaluate", str(run), "--validation", "--data", str(data))
    assert_one_line_error(code, err, "drop --data")


def test_a_run_without_a_validation_cut_starts_from_a_language_model_of_any_cut(capsys,
                                                                              tmp_path):
    data = write_skewed_csv(tmp_path / "skewed.csv")
    lm = tmp_path / "lm"
    assert run_cli(capsys, "train", "lm", "--data", str(data), "--level", "word", *SMALL,
                   "--seq-len", "8", "--steps", "2", "--eval-every", "0",
                   "--out", str(lm))[0] == 0                  # its validation cut: 0.1
    flags = ["train", "classify", "--data", str(data), *SMALL, "--init-from", str(lm),
             "--steps", "1"]
    code, _, err = run_cli(capsys, *flags, "--val-fraction", "0", "--out", str(tmp_path / "a"))
    assert code == 0 and "start from the language model" in err
    code, _, err = run_cli(capsys, *flags, "--val-fraction", "0.3", "--out", str(tmp_path / "b"))
    assert_one_line_error(code, err, "another cut of the texts")


def test_a_negative_tau_is_refused(capsys, skewed_run):
    code, _, err = run_cli(capsys, "evaluate", str(skewed_run[1]), "--logit-adjust", "-1")
    assert code != 0 and "--logit-adjust" in err


def test_runs_with_other_seeds_share_the_test_split_unless_told_otherwise(capsys, tmp_path):
    """--seed moves the initialisation and the batches, never the test split or the validation
    cut: those follow --split-seed alone (default 0), so seeds can be compared and ensembled."""
    configs = [read_run_config(train_skewed(capsys, tmp_path, name, "--steps", "1", *flags)[1])
               for name, flags in (("s0", ()), ("s3", ("--seed", "3")),
                                   ("s3split", ("--seed", "3", "--split-seed", "3")))]
    assert [c["data"]["split_seed"] for c in configs] == [0, 0, 3]
    assert [c["train"]["seed"] for c in configs] == [0, 3, 3]
