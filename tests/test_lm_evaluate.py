"""``rnnkit evaluate RUN`` of a language model scores the run's own validation text with
training's windows and lanes, so it repeats the figure training logged: for a plain text and
for a labelled set, whose validation part is its classifier's validation texts (not the tail
of the CSV file read as text)."""

import json
import re

import pytest
from conftest import run_cli
from task_fixtures import write_csv

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ["--hidden", "8", "--embed", "8", "--layers", "1", "--batch-size", "8",
         "--no-progress"]


def logged_validation_loss(run) -> float:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "eval"][-1]["loss"]


def printed_loss(out: str) -> float:
    return float(re.search(r"loss (\d+\.\d+) nats", out).group(1))


def test_evaluate_repeats_the_validation_loss_training_logged(capsys, tiny_run):
    code, out, err = run_cli(capsys, "evaluate", str(tiny_run))
    assert code == 0, err
    assert "validation split" in out
    assert printed_loss(out) == pytest.approx(logged_validation_loss(tiny_run), abs=6e-5)


def test_a_language_model_of_a_labelled_set_is_scored_on_its_validation_texts(
        capsys, tmp_path):
    data = write_csv(tmp_path / "reviews.csv", n=80)
    lm = tmp_path / "lm"
    code, _, err = run_cli(capsys, "train", "lm", "--data", str(data), "--level", "word",
                           *SMALL, "--seq-len", "4", "--steps", "6", "--eval-every", "0",
                           "--out", str(lm))
    assert code == 0, err
    code, out, err = run_cli(capsys, "evaluate", str(lm))
    assert code == 0, err
    assert "not in the vocabulary" not in err       # the CSV's header and ids are not scored
    assert printed_loss(out) == pytest.approx(logged_validation_loss(lm), abs=6e-5)
    code, out, err = run_cli(capsys, "diagnose", str(lm), "--batch-size", "2")
    assert code == 0, err
