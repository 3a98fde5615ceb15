"""Every task resumes: a language-model, classify, tag, seq2seq, condgen or forecast run stopped
by Ctrl-C and continued with ``rnnkit train --resume RUN`` ends with exactly the weights of a run
never stopped (same batches, dropout masks, optimizer moments and schedule), and resuming refuses
what it cannot continue in one line."""

import os
import shutil
import signal

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.data.padded import PaddedBatches
from rnnkit.train.loop import Trainer

from conftest import make_text
from task_fixtures import write_conllu, write_csv
from test_cli import assert_one_line_error, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ["--hidden", "8", "--embed", "8", "--batch-size", "16", "--no-progress"]
NAMES = {"tr": ["Ayşe", "Mehmet", "Elif", "Emre", "Zeynep"], "fi": ["Aino", "Eino", "Sanna"]}


def write_data(task: str, root) -> list[str]:
    """The data flags of a tiny run of ``task``."""
    if task == "lm":
        (root / "text.txt").write_text(make_text(400), encoding="utf-8")
        return ["--data", str(root / "text.txt"), "--seq-len", "8", "--eval-every", "0"]
    if task == "classify":
        return ["--data", str(write_csv(root / "reviews.csv", n=40))]
    if task == "tag":
        return ["--data", str(write_conllu(root / "t.conllu", n=30)), "--char-hidden", "4"]
    if task == "seq2seq":
        words = [a + b + c for a in "abcd" for b in "abcd" for c in "abc"]
        (root / "pairs.tsv").write_text("".join(f"{w}\t{w[::-1]}\n" for w in words),
                                        encoding="utf-8")
        return ["--data", str(root / "pairs.tsv"), "--val-fraction", "0.1"]
    if task == "forecast":
        rows = [f"s{k},{t},{(t * 7 + k * 3) % 11 + 5}" for k in range(4) for t in range(30)]
        (root / "series.csv").write_text("id,time,value\n" + "\n".join(rows) + "\n")
        return ["--data", str(root / "series.csv"), "--horizon", "4", "--context", "8",
                "--samples", "10"]
    rows = [f"{n}{i},{k}" for k, names in NAMES.items() for n in names for i in range(4)]
    (root / "names.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return ["--data", str(root / "names.csv")]


def interrupt_at(monkeypatch, step: int, signum: int, where: str) -> None:
    """Make the next training run receive ``signum`` during update ``step`` (counted from 1):
    at its start, or after its optimizer step."""
    real = Trainer.train_step

    def train_step(self, batch):
        if where == "start" and self.step == step - 1:
            os.kill(os.getpid(), signum)
        metrics = real(self, batch)
        if where == "end" and self.step == step:
            os.kill(os.getpid(), signum)
        return metrics

    monkeypatch.setattr(Trainer, "train_step", train_step)


@pytest.mark.parametrize("task,stop,signum,where", [
    ("lm", 3, signal.SIGINT, "start"), ("lm", 4, signal.SIGTERM, "end"),
    ("classify", 2, signal.SIGINT, "end"), ("classify", 3, signal.SIGTERM, "start"),
    ("tag", 3, signal.SIGINT, "start"), ("seq2seq", 4, signal.SIGTERM, "end"),
    ("condgen", 3, signal.SIGINT, "end"), ("forecast", 3, signal.SIGTERM, "start")])
def test_a_stopped_and_resumed_run_ends_with_the_weights_of_an_unstopped_one(
        task, stop, signum, where, capsys, tmp_path, monkeypatch):
    flags = ["train", task, *write_data(task, tmp_path), *SMALL, "--steps", "7",
             "--dropout", "0.3"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_cli(capsys, *flags, "--out", str(whole))[0] == 0

    interrupt_at(monkeypatch, stop, signum, where)
    code, _, err = run_cli(capsys, *flags, "--out", str(parts))
    assert code == 128 + signum and "Traceback" not in err
    assert f"stopped at step {stop}" in err.splitlines()[-1] and "--resume" in err
    monkeypatch.undo()
    code, out, _ = run_cli(capsys, "train", "--resume", str(parts), "--no-progress")
    assert code == 0, out

    a, b = load_file(whole / "model.safetensors"), load_file(parts / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_keyboard_interrupt_outside_the_signal_handler_still_saves(capsys, tmp_path,
                                                                     monkeypatch):
    real = Trainer.train_step

    def train_step(self, batch):
        if self.step == 2:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    code, _, err = run_cli(capsys, "train", "lm", *write_data("lm", tmp_path), *SMALL,
                           "--steps", "5", "--out", str(tmp_path / "run"))
    assert code == 130 and "interrupted at step 2" in err and "--resume" in err


@pytest.mark.parametrize("stop", [0, 1, 3, 4, 6])
def test_padded_batches_continue_from_their_saved_position(stop):
    inputs = [torch.arange(n) for n in (3, 1, 4, 1, 5, 9, 2, 6, 5)]
    batches = PaddedBatches(inputs, list(range(9)), 3, seed=7, bucket=1)   # 3 batches a pass

    def draw(source, n):
        out, it = [], iter(source)
        while len(out) < n:
            for b in it:
                out.append(b.targets.tolist())
                break
            else:
                it = iter(source)
        return out, it

    expected, _ = draw(batches, 8)
    fresh = PaddedBatches(inputs, list(range(9)), 3, seed=7, bucket=1)
    head, _ = draw(fresh, stop)
    resumed = PaddedBatches(inputs, list(range(9)), 3, seed=7, bucket=1)
    resumed.load_state_dict(fresh.state_dict())
    tail, _ = draw(resumed, 8 - stop)
    assert head + tail == expected


def test_resume_refuses_changed_data_other_settings_and_the_wrong_task(capsys, tmp_path):
    data = write_data("classify", tmp_path)
    run = tmp_path / "run"
    assert run_cli(capsys, "train", "--task", "classify", *data, *SMALL, "--steps", "3",
                   "--out", str(run))[0] == 0

    code, _, err = run_cli(capsys, "train", "--resume", str(run), "--lr", "0.1")
    assert_one_line_error(code, err, "drop --lr")
    code, _, err = run_cli(capsys, "train", "--resume", str(run), "--task", "tag")
    assert_one_line_error(code, err, "is a 'classify' run")

    original = (tmp_path / "reviews.csv").read_text(encoding="utf-8")
    other = original.replace("car", "bus").replace("road", "lane")   # another vocabulary
    (tmp_path / "reviews.csv").write_text(other, encoding="utf-8")
    code, _, err = run_cli(capsys, "train", "--resume", str(run), "--steps", "5",
                           "--no-progress")
    assert_one_line_error(code, err, "has changed since the run started")

    (tmp_path / "reviews.csv").write_text(original, encoding="utf-8")
    shutil.rmtree(run / "checkpoints")
    code, _, err = run_cli(capsys, "train", "--resume", str(run), "--steps", "5")
    assert_one_line_error(code, err, "cannot be resumed")


def test_resuming_a_finished_run_asks_for_more_steps(capsys, tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    code, _, err = run_cli(capsys, "train", "--resume", str(run), "--steps", "4")
    assert_one_line_error(code, err, "already at step 6 of 4", "--steps N with N > 6")
