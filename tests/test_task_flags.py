"""Every flag exists only where it applies: each `rnnkit train TASK`, `predict`, `evaluate` and
`generate` refuses, in one line with exit status 2, every flag that another task takes and it
does not; and the task registry is what the command line offers."""

import argparse

import pytest

from rnnkit.cli import train_cmd, use_cmds
from rnnkit.cli.parser import Parser
from rnnkit.tasks import TASKS

from test_cli import run_cli

def _flags(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Long option -> whether it takes a value."""
    return {s: a.nargs != 0 for a in parser._actions for s in a.option_strings
            if s.startswith("--") and s != "--help"}


def _one_line_refusal(code, err, flag):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (flag, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert flag in lines[0] and "does not apply" in lines[0], lines[0]


def _argv(flag: str, takes_value: bool) -> list[str]:
    return [flag, "1"] if takes_value else [flag]


def test_every_task_is_a_train_subcommand_and_task_is_another_spelling():
    assert set(train_cmd._subparsers()) == set(TASKS) == {"lm", "classify", "tag", "seq2seq",
                                                          "condgen", "forecast"}
    for name in TASKS:
        assert train_cmd.normalise(["train", "--task", name, "--steps", "3"]) == \
            ["train", name, "--steps", "3"]
        assert train_cmd.normalise(["train", f"--task={name}"]) == ["train", name]
    assert train_cmd.normalise(["train", "--steps", "3"]) == ["train", "lm", "--steps", "3"]


def test_train_refuses_every_flag_of_other_tasks(capsys, tmp_path):
    parsers = train_cmd._subparsers()
    everything = {f: v for p in parsers.values() for f, v in _flags(p).items()}
    refused = 0
    for name, parser in parsers.items():
        own = _flags(parser)
        for flag, takes_value in everything.items():
            if flag in own:
                continue
            code, _, err = run_cli(capsys, "train", name, "--out", str(tmp_path / "x"),
                                   *_argv(flag, takes_value))
            _one_line_refusal(code, err, flag)
            refused += 1
    assert refused > 40 and not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def runs(every_task):
    """A tiny trained run of every task (the serving tests' runs)."""
    return {task: run for task, run in every_task.items() if task in TASKS}


@pytest.mark.parametrize("command", ["predict", "evaluate", "generate"])
def test_run_commands_refuse_every_flag_of_other_tasks(capsys, runs, command):
    def parser(task):
        return use_cmds.add_command(Parser().add_subparsers(), command, TASKS[task])

    everything = {f: v for t in TASKS for f, v in _flags(parser(t)).items()}
    for task, run in runs.items():
        if command == "generate" and not TASKS[task].can_generate:
            code, _, err = run_cli(capsys, command, str(run))
            assert code == 2 and "rnnkit generate needs" in err and len(err.splitlines()) == 1
            continue
        own = _flags(parser(task))
        inputs = ["abc"] if command == "predict" else []
        for flag, takes_value in everything.items():
            if flag in own:
                continue
            code, _, err = run_cli(capsys, command, str(run), *inputs, *_argv(flag, takes_value))
            _one_line_refusal(code, err, flag)
            assert f"is a run of task {task}" in err


def test_predict_speaks_json_for_every_task(capsys, runs):
    import json
    inputs = {"lm": "elma", "classify": "great day", "tag": "the cat", "condgen": "tr",
              "seq2seq": "abc", "forecast": str(runs["forecast"].parent / "s.csv")}
    for task, run in runs.items():
        code, out, err = run_cli(capsys, "predict", str(run), inputs[task], "--json")
        assert code == 0, err
        assert isinstance(json.loads(out.splitlines()[0]), dict)


def test_a_text_without_line_breaks_trains_and_samples(capsys, tmp_path):
    path = tmp_path / "one_line.txt"
    path.write_text("elma kırmızıdır armut sarıdır " * 40, encoding="utf-8")
    code, out, err = run_cli(capsys, "train", "--data", str(path), "--steps", "5", "--hidden",
                             "8", "--embed", "4", "--seq-len", "16", "--batch-size", "2",
                             "--no-progress", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "sample:" in out
