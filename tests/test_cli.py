"""The command line end to end on tiny data, and every bad input it must refuse in one line."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file


from conftest import TINY_FLAGS, run_cli


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) >= 1 and "Traceback" not in err
    message = lines[-1]
    for needle in needles:
        assert needle in message, message


def test_train_writes_a_complete_run_folder(tiny_run):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "metrics.jsonl",
                 "learning_curve.png", "checkpoints/step-00000006/trainer.json",
                 "checkpoints/step-00000006/trainer.safetensors"):
        assert (tiny_run / name).is_file(), name
    records = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "eval" and "bpc" in r for r in records)
    assert all("grad_norm" in r for r in records if r["kind"] == "train")


def test_generate_streams_a_continuation_of_the_prompt(capsys, tiny_run):
    code, out, _ = run_cli(capsys, "generate", str(tiny_run), "--prompt", "elma", "--length",
                           "40", "--seed", "3", "--top-k", "5", "--top-p", "0.9")
    assert code == 0 and out.startswith("elma") and len(out.rstrip("\n")) == 44
    again = run_cli(capsys, "generate", str(tiny_run), "--prompt", "elma", "--length", "40",
                    "--seed", "3", "--top-k", "5", "--top-p", "0.9")[1]
    assert again == out


def test_generate_ends_at_a_stop_string_without_showing_it(capsys, tiny_run):
    flags = ["--prompt", "elma", "--length", "300", "--seed", "3", "--temperature", "1.5"]
    full = run_cli(capsys, "generate", str(tiny_run), *flags)[1].rstrip("\n")
    generated = full[len("elma"):]
    stop = generated[20:22]                       # a string the sample really produces
    first = generated.find(stop)
    code, out, err = run_cli(capsys, "generate", str(tiny_run), *flags, "--stop", stop,
                             "--stop", "never-generated")
    assert code == 0, err
    assert out == "elma" + generated[:first] + "\n"


def test_generate_refuses_an_empty_stop_string(capsys, tiny_run):
    code, _, err = run_cli(capsys, "generate", str(tiny_run), "--stop", "")
    assert code == 2 and "stop string must not be empty" in err and "Traceback" not in err


def test_evaluate_prints_bits_per_character(capsys, tiny_run, tiny_text):
    code, out, _ = run_cli(capsys, "evaluate", str(tiny_run))
    assert code == 0 and "bits per character" in out
    code, out, _ = run_cli(capsys, "evaluate", str(tiny_run), "--data", str(tiny_text))
    assert code == 0 and "bits per character" in out


def test_resume_continues_to_more_steps(capsys, tiny_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    code, out, err = run_cli(capsys, "train", "--resume", str(run), "--steps", "9",
                             "--no-progress")
    assert code == 0, err
    assert "after 9 steps" in out


@pytest.mark.parametrize("ratio", ["1", "0"])
def test_min_lr_ratio_sets_the_cosine_floor(capsys, tmp_path, tiny_text, ratio):
    out = tmp_path / "run"
    flags = [f for f in TINY_FLAGS if f != "--no-progress"]
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--out", str(out), *flags,
                           "--warmup", "2", "--lr", "0.01", "--min-lr-ratio", ratio,
                           "--no-progress")
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["train"]["min_lr_ratio"] == float(ratio)
    lrs = [r["lr"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
           if r["kind"] == "train"]
    if ratio == "1":   # constant after warm-up
        assert lrs[-1] == pytest.approx(0.01)
    else:              # annealed towards zero
        assert 0 <= lrs[-1] < 0.005
    code, _, err = run_cli(capsys, "train", "--resume", str(out), "--min-lr-ratio", "0.5")
    assert_one_line_error(code, err, "--min-lr-ratio")


def test_min_lr_ratio_outside_zero_to_one_is_refused(capsys, tmp_path, tiny_text):
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--min-lr-ratio", "1.5",
                           "--out", str(tmp_path / "r"), *TINY_FLAGS)
    assert_one_line_error(code, err, "must be in [0, 1]")


def test_resume_refuses_changed_settings(capsys, tiny_run):
    code, _, err = run_cli(capsys, "train", "--resume", str(tiny_run), "--hidden", "32")
    assert_one_line_error(code, err, "--hidden")


def test_existing_run_folder_is_not_overwritten(capsys, tiny_run, tiny_text):
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--out", str(tiny_run),
                           *TINY_FLAGS)
    assert_one_line_error(code, err, "already exists", "--resume")


@pytest.mark.parametrize("make,needle", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.mkdir(), p)[1], "directory"),
    (lambda p: (p.write_text(""), p)[1], "empty"),
    (lambda p: (p.write_bytes(b"\x00\x01binary\x00" * 50), p)[1], "binary"),
    (lambda p: (p.write_bytes("çalışkan öğrenci".encode("latin-1", "replace") * 50), p)[1],
     "UTF-8"),
    (lambda p: (p.write_text("too short"), p)[1], "--seq-len"),
])
def test_bad_data_files_get_one_line(capsys, tmp_path, make, needle):
    path = make(tmp_path / "data.txt")
    code, _, err = run_cli(capsys, "train", "--data", str(path), "--out", str(tmp_path / "run"),
                           *TINY_FLAGS)
    assert_one_line_error(code, err, needle)


@pytest.mark.parametrize("flags,needle", [
    (["--hidden", "0"], "--hidden"),
    (["--seq-len", "-1"], "--seq-len"),
    (["--dropout", "1.5"], "--dropout"),
    (["--lr", "nan"], "--lr"),
    (["--bidirectional"], "causal"),
    (["--tie-weights"], "tied"),
])
def test_nonsense_settings_get_one_line(capsys, tmp_path, tiny_text, flags, needle):
    argv = ["train", "--data", str(tiny_text), "--out", str(tmp_path / "run"), *TINY_FLAGS,
            *flags]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, needle)


def test_missing_run_folder(capsys, tmp_path):
    for command in ("generate", "evaluate"):
        code, _, err = run_cli(capsys, command, str(tmp_path / "nope"))
        assert_one_line_error(code, err, "does not exist")


def test_truncated_checkpoint(capsys, tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    weights = run / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    code, _, err = run_cli(capsys, "generate", str(run))
    assert_one_line_error(code, err, "truncated or corrupt")


def test_checkpoint_of_another_model(capsys, tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    save_file({"weight": torch.randn(3, 3)}, run / "model.safetensors")
    code, _, err = run_cli(capsys, "generate", str(run))
    assert_one_line_error(code, err, "no rnnkit metadata")


def test_checkpoint_with_weights_that_do_not_fit_its_config(capsys, tiny_run, tmp_path):
    from safetensors import safe_open
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    with safe_open(run / "model.safetensors", framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["head.bias"] = torch.zeros(3)
    save_file(tensors, run / "model.safetensors", metadata=meta)
    code, _, err = run_cli(capsys, "generate", str(run))
    assert_one_line_error(code, err, "head.bias")


def test_resume_with_a_trainer_state_from_another_step(capsys, tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    for folder in (run / "checkpoints").iterdir():
        doc = json.loads((folder / "trainer.json").read_text())
        doc["step"] = 2
        (folder / "trainer.json").write_text(json.dumps(doc))
    code, _, err = run_cli(capsys, "train", "--resume", str(run), "--steps", "8", "--no-progress")
    assert_one_line_error(code, err, "cannot be resumed", "not all from step 6")


def test_prompt_with_unseen_characters_names_them(capsys, tiny_run):
    code, _, err = run_cli(capsys, "generate", str(tiny_run), "--prompt", "elma ☃Q")
    assert_one_line_error(code, err, "'☃'", "'Q'")


def test_console_script_exits_nonzero_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "train", "--data",
                             str(tmp_path / "missing.txt")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr


def test_stop_strings_take_shell_escapes():
    from rnnkit.tasks.flags import escaped_text
    assert escaped_text(r"\n\n") == "\n\n" and escaped_text(r"a\tb\\n") == "a\tb\\n"
    assert escaped_text("ğş\\q") == "ğş\\q"


def test_the_built_in_corpus_reports_the_unseen_play_as_its_test(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path / "run"), *TINY_FLAGS)
    assert code == 0, err
    assert "test (The Merchant of Venice, a play training never sees):" in out
    code, out, _ = run_cli(capsys, "evaluate", str(tmp_path / "run"), "--split", "test")
    assert code == 0 and out.startswith("test split:") and "bits per character" in out
