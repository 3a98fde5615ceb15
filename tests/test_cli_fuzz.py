"""Hostile input to every command: each case ends with exit status 2 and one line on stderr,
never a traceback, and leaves every file the user made unchanged."""

import hashlib
import json
import shutil

import pytest

from test_cli import run_cli


def snapshot(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, *argv, needle=""):
    code, out, err = run_cli(capsys, *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (argv, code, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def run(tiny_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    return copy


CASES = [
    (["train", "--seed", str(2**64)], "below 2**32"),
    (["train", "--lr", "1e308"], "at most 1000"),
    (["train", "--lr", "nan"], "finite"),
    (["train", "--hidden", "1000000000", "--steps", "1"], "--hidden"),
    (["train", "--steps", "0"], "positive integer"),
    (["train", "--batch-size", "-1"], "positive integer"),
    (["train", "--dropout", "1.5"], "[0, 1)"),
    (["train", "--top", "3"], "does not apply"),
    (["train", "--tas", "lm"], "does not apply"),
]


@pytest.mark.parametrize("argv,needle", CASES)
def test_train_flags(capsys, tmp_path, tiny_text, argv, needle):
    out = tmp_path / "out"
    refused(capsys, *argv, "--data", str(tiny_text), "--out", str(out), "--no-progress",
            needle=needle)
    assert not out.exists() or not any(out.iterdir())


RUN_CASES = [
    (["generate", "{run}", "--temperature", "1e-320"], "temperature"),
    (["generate", "{run}", "--top-p", "1e-300"], "top-p"),
    (["generate", "{run}", "--top-k", "0"], "positive integer"),
    (["generate", "{run}", "--seed", "-1"], ">= 0"),
    (["generate", "{run}", "--prompt", ""], "empty"),
    (["predict", "{run}", "elma", "--length", "-4"], ">= 0"),
    (["predict", "{run}", "   "], "empty"),
    (["evaluate", "{run}", "--seq-len", "0"], "positive integer"),
    (["evaluate", "{run}", "--data", "/nonexistent/file.txt"], "nonexistent"),
    (["evaluate", "{run}", "--beam", "3"], "does not apply"),
    (["diagnose", "{run}", "--batch-size", "0"], "positive integer"),
    (["train", "--resume", "{run}", "--steps", "3"], "already at step"),
    (["train", "--resume", "{run}", "--hidden", "8"], "drop --hidden"),
]


@pytest.mark.parametrize("argv,needle", RUN_CASES)
def test_commands_on_a_run(capsys, run, argv, needle):
    before = snapshot(run)
    refused(capsys, *[a.format(run=run) for a in argv], needle=needle)
    assert snapshot(run) == before


def test_tampered_configs_are_one_line(capsys, run):
    config = json.loads((run / "config.json").read_text())
    for key, value, needle in (("model", {**config["model"], "hidden_size": "abc"}, "hidden_size"),
                               ("model", {**config["model"], "layers": 3}, "layers"),
                               ("data", ["not", "an", "object"], "not an object"),
                               ("train", {**config["train"], "lr": "fast"}, "lr")):
        (run / "config.json").write_text(json.dumps({**config, key: value}))
        refused(capsys, "train", "--resume", str(run), "--steps", "9", "--no-progress",
                needle=needle)
    (run / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    refused(capsys, "evaluate", str(run), needle="config.json")
    (run / "config.json").write_text(json.dumps(config))


def test_a_planted_huge_model_is_refused_before_allocating(capsys, run, monkeypatch):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    path = run / "model.safetensors"
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    meta = json.loads(metadata["meta"])
    meta["model"]["hidden_size"] = 10**9
    save_file(load_file(path), path, metadata={**metadata, "meta": json.dumps(meta)})
    refused(capsys, "generate", str(run), "--length", "5", needle="--hidden")
    meta["model"]["hidden_size"] = "big"
    save_file(load_file(path), path, metadata={**metadata, "meta": json.dumps(meta)})
    refused(capsys, "generate", str(run), "--length", "5", needle="hidden_size")


def test_other_tasks_commands_are_refused(capsys, run, tmp_path):
    refused(capsys, "predict", str(run), "elma", "--attention-png", str(tmp_path),
            needle="does not apply")


# Every task's reader given a file that is not text (bytes that are not UTF-8), one with a NUL
# byte, and a FIFO: one line naming the file, never a UnicodeDecodeError's traceback.
TASK_DATA = [(["train", "classify"], ".csv"), (["train", "tag"], ".conllu"),
             (["train", "seq2seq"], ".tsv"), (["train", "forecast", "--horizon", "2"], ".csv"),
             (["train", "classify"], ".ts"), (["train", "lm"], ".txt")]


@pytest.mark.parametrize("argv,suffix", TASK_DATA)
@pytest.mark.parametrize("content,needle", [(b"text,label\n\xd0\xff\xfe,a\n", "at offset 11"),
                                            (b"text,label\nab\x00c,a\n", "binary"),
                                            (None, "FIFO")])
def test_every_reader_refuses_files_that_are_not_text(capsys, tmp_path, argv, suffix,
                                                      content, needle):
    import os
    data = tmp_path / f"data{suffix}"
    if content is None:
        os.mkfifo(data)
    else:
        data.write_bytes(content)
    refused(capsys, *argv, "--data", str(data), "--steps", "1", "--out", str(tmp_path / "out"),
            "--no-progress", needle=needle)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("task,name,text", [
    ("seq2seq", "two.tsv", "abc\tcba\nxy\tyx\n"),
    ("tag", "one.conllu", "1\tThe\tthe\tDET\t_\t_\t_\t_\t_\t_\n\n")])
def test_data_too_small_for_a_test_part_is_refused_not_scored_on_nothing(capsys, tmp_path,
                                                                        task, name, text):
    data = tmp_path / name
    data.write_text(text, encoding="utf-8")
    refused(capsys, "train", task, "--data", str(data), "--steps", "1", "--out",
            str(tmp_path / "out"), "--no-progress", needle="test part")


@pytest.mark.parametrize("stdin,needle", [(b"good text\n\xd0\xff bad\n", "stdin line 2"),
                                          (b"ab\x00cd\n", "binary")])
def test_predict_refuses_stdin_that_is_not_text(capsys, monkeypatch, run, stdin, needle):
    import io
    import sys
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), errors="replace"))
    refused(capsys, "predict", str(run), "-", needle=needle)


def test_predict_reads_utf8_stdin_whatever_the_locale(capsys, monkeypatch, run):
    import io
    import sys
    text = "elma kırmızıdır\nelma\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text), encoding="ascii",
                                                       errors="surrogateescape"))
    code, out, err = run_cli(capsys, "predict", str(run), "-", "--length", "3", "--json")
    assert code == 0, err
    assert [json.loads(line)["prompt"] for line in out.splitlines()] == ["elma kırmızıdır",
                                                                         "elma"]


@pytest.mark.parametrize("argv", [["predict", "{run}", "x", "--length", "1000001"],
                                  ["generate", "{run}", "--length", "99999999"]])
def test_generation_lengths_past_a_million_tokens_are_refused(capsys, run, argv):
    refused(capsys, *[a.format(run=run) for a in argv], needle="at most 1,000,000")
