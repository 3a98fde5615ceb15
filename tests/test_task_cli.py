"""`rnnkit train --task classify|tag`, `predict`, `evaluate` and `datasets` end to end on tiny
files in each format, and every bad input refused (or handled) in one line."""

import io
import json

import pytest

from rnnkit.cli.main import main

from task_fixtures import write_brown, write_conllu, write_csv, write_ts
from test_cli import assert_one_line_error, run_cli

SMALL = ["--hidden", "16", "--embed", "8", "--batch-size", "8", "--no-progress"]


@pytest.fixture(scope="session")
def csv_file(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("csv") / "reviews.csv", n=80)


@pytest.fixture(scope="session")
def text_run(tmp_path_factory, csv_file):
    out = tmp_path_factory.mktemp("runs") / "text"
    assert main(["train", "--task", "classify", "--data", str(csv_file), "--out", str(out),
                 "--steps", "60", "--lr", "0.01", "--pooling", "max", *SMALL]) == 0
    return out


@pytest.fixture(scope="session")
def tag_run(tmp_path_factory):
    path = write_conllu(tmp_path_factory.mktemp("conllu") / "t.conllu", n=60)
    out = tmp_path_factory.mktemp("runs") / "tag"
    assert main(["train", "--task", "tag", "--data", str(path), "--out", str(out),
                 "--steps", "40", "--lr", "0.01", "--char-hidden", "4", *SMALL]) == 0
    return out


def test_classify_run_folder_and_evaluation(capsys, text_run):
    for name in ("config.json", "codec.json", "split.json", "model.safetensors",
                 "metrics.jsonl", "learning_curve.png", "evaluation.json",
                 "confusion_matrix.png"):
        assert (text_run / name).is_file(), name
    config = json.loads((text_run / "config.json").read_text())
    assert config["task"] == "classify" and "seed 0" in config["split"]
    code, out, _ = run_cli(capsys, "evaluate", str(text_run))
    assert code == 0 and "accuracy" in out and "macro-F1" in out and "precision" in out
    assert json.loads((text_run / "evaluation.json").read_text())["accuracy"] >= 0.9


def test_predict_prints_label_and_probabilities(capsys, text_run, monkeypatch):
    code, out, _ = run_cli(capsys, "predict", str(text_run), "great lovely", "awful sad")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("pos\t") and lines[1].startswith("neg\t") and "neg=" in lines[0]
    monkeypatch.setattr("sys.stdin", io.StringIO("happy fine\nugly poor\n"))
    code, out, _ = run_cli(capsys, "predict", str(text_run), "-", "--top", "1")
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["pos", "neg"]
    code, _, err = run_cli(capsys, "predict", str(text_run), "fine", "--beam", "3")
    assert_one_line_error(code, err, "--beam does not apply to rnnkit predict")


def test_library_load_returns_model_and_codec(text_run):
    import rnnkit
    from rnnkit.tasks import TASKS
    model, codec = rnnkit.load(text_run)
    assert codec.labels.labels == ("neg", "pos")
    assert TASKS["classify"].predict(model, codec, ["happy"])[0]["label"] == "pos"


def test_tagger_run_predicts_and_reports_unseen_words(capsys, tag_run):
    code, out, _ = run_cli(capsys, "predict", str(tag_run), "the cat sleeps slowly")
    assert code == 0 and out.split() == ["the/DET", "cat/NOUN", "sleeps/VERB", "slowly/ADV"]
    code, out, _ = run_cli(capsys, "evaluate", str(tag_run))
    assert code == 0 and "words unseen in training" in out


def test_series_and_brown_runs(capsys, tmp_path):
    ts = write_ts(tmp_path / "s.ts", n=40)
    code, out, err = run_cli(capsys, "train", "--task", "classify", "--data", str(ts),
                             "--out", str(tmp_path / "s"), "--steps", "30", "--frame", "2",
                             "--lr", "0.01", *SMALL[:2], *SMALL[4:])
    assert code == 0, err
    code, out, _ = run_cli(capsys, "predict", str(tmp_path / "s"), str(ts))
    assert code == 0 and len(out.splitlines()) == 40
    brown = write_brown(tmp_path / "brown", n=30)
    code, out, err = run_cli(capsys, "train", "--task", "tag", "--data", str(brown), "--out",
                             str(tmp_path / "b"), "--steps", "5", "--char-hidden", "0", *SMALL)
    assert code == 0 and "test: accuracy" in out, err


def test_datasets_lists_builtins(capsys):
    code, out, _ = run_cli(capsys, "datasets")
    for name in ("shakespeare", "ptb", "jvowels", "gunpoint", "tweets", "names", "brown",
                 "turkish", "cmudict", "cmudict-nostress", "gettext-tr"):
        assert f"builtin:{name}" in out
    assert "split:" in out and "licence:" in out


def test_lm_stays_the_default_and_refuses_task_flags(capsys, tiny_text, tmp_path):
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--pooling", "max")
    assert_one_line_error(code, err, "--pooling", "a flag of rnnkit train classify")


# -- bad input -------------------------------------------------------------------------------

def _train(capsys, tmp_path, data, *flags, task="classify"):
    return run_cli(capsys, "train", "--task", task, "--data", str(data), "--out",
                   str(tmp_path / "run"), "--steps", "2", *SMALL, *flags)


def test_csv_without_the_named_columns(capsys, tmp_path, csv_file):
    code, _, err = _train(capsys, tmp_path, csv_file, "--text-column", "review")
    assert_one_line_error(code, err, "no column 'review'", "'label', 'text', 'id'")


def test_csv_with_an_empty_label(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nfine,pos\nbad,\n")
    code, _, err = _train(capsys, tmp_path, path)
    assert_one_line_error(code, err, "line 3", "empty label")


def test_empty_lines_are_skipped_and_announced(capsys, tmp_path, csv_file):
    path = tmp_path / "gaps.csv"
    lines = csv_file.read_text().splitlines()
    path.write_text("\n".join(lines[:5] + ["", ","] + lines[5:]) + "\n")
    code, _, err = _train(capsys, tmp_path, path)
    assert code == 0 and "skipped 2 empty line" in err and "Traceback" not in err


def test_empty_text_at_prediction(capsys, text_run, monkeypatch):
    code, _, err = run_cli(capsys, "predict", str(text_run), "  ")
    assert_one_line_error(code, err, "argument 1 is empty")
    monkeypatch.setattr("sys.stdin", io.StringIO("fine\n\n"))
    code, _, err = run_cli(capsys, "predict", str(text_run), "-")
    assert_one_line_error(code, err, "stdin line 2 is empty")


def test_sequences_longer_than_max_len_are_cut_with_one_warning(capsys, tmp_path, csv_file):
    code, _, err = _train(capsys, tmp_path, csv_file, "--max-len", "3")
    warnings = [line for line in err.splitlines() if "truncated" in line]
    assert code == 0 and len(warnings) >= 1 and "longer than max_len=3" in warnings[0]
    assert all(w.startswith("rnnkit: warning:") for w in warnings)


def test_label_unseen_in_training_at_evaluation(capsys, text_run, tmp_path):
    path = tmp_path / "eval.csv"
    path.write_text("label,text\npos,fine\nmeh,so so\nmeh,whatever\n")
    code, _, err = run_cli(capsys, "evaluate", str(text_run), "--data", str(path))
    assert_one_line_error(code, err, "never saw in training", "'meh' (2)")


def test_ts_file_with_a_malformed_line(capsys, tmp_path):
    path = write_ts(tmp_path / "bad.ts", n=4, extra="1,2,oops:1,2,3:a\n")
    code, _, err = _train(capsys, tmp_path, path)
    assert_one_line_error(code, err, "line 12", "'oops' is not a number")


def test_series_with_nan_values_are_filled_and_announced(capsys, tmp_path):
    path = write_ts(tmp_path / "nan.ts", n=20, extra="1,NaN,3:?,2,2:a\n")
    code, _, err = _train(capsys, tmp_path, path)
    assert code == 0 and "1 series have missing values" in err and "Traceback" not in err


@pytest.mark.parametrize("argv,needle", [
    (["--data", "builtin:nope"], "unknown data set"),
    (["--data", "x.json"], "does not exist"),
    (["--pooling", "max", "--task", "tag", "--data", "builtin:brown"], None),
])
def test_other_bad_settings(capsys, tmp_path, argv, needle, monkeypatch):
    monkeypatch.setenv("RNNKIT_BROWN", str(tmp_path / "missing"))
    code, _, err = run_cli(capsys, "train", "--task", "classify", *argv, "--out",
                           str(tmp_path / "r"), *SMALL)
    assert_one_line_error(code, err, *([needle] if needle else []))


def test_task_mismatch_and_wrong_run_kind(capsys, tmp_path, tiny_run, text_run):
    conllu = write_conllu(tmp_path / "t.conllu", n=10)
    code, _, err = _train(capsys, tmp_path, conllu)
    assert_one_line_error(code, err, "use rnnkit train tag")
    code, out, _ = run_cli(capsys, "predict", str(tiny_run), "elma", "--length", "12",
                           "--seed", "3")
    assert code == 0 and out.startswith("elma") and len(out.rstrip("\n")) > len("elma")
    code, _, err = run_cli(capsys, "generate", str(text_run))
    assert_one_line_error(code, err, "rnnkit generate needs a language model")
