"""``rnnkit train [TASK] ...``: train a run of any task, or continue one with ``--resume``.

    rnnkit train                                   the main job: a character LSTM on Shakespeare
    rnnkit train classify --data builtin:jvowels   a subcommand per task, its own flags only
    rnnkit train --task classify ...               the same (another spelling)
    rnnkit train --resume RUN [--steps N]          any run, with its own settings
    rnnkit train ... --nproc N                     N data-parallel processes (torchrun)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from rnnkit.cli.parser import Parser
from rnnkit.errors import RnnkitError
from rnnkit.tasks import TASKS, task_named
from rnnkit.tasks.flags import add_common_train_flags, positive_int
from rnnkit.train.checkpoint import MODEL_FILE
from rnnkit.train.distributed import restarted
from rnnkit.train.run import train_run
from rnnkit.train.run_folder import CONFIG_FILE, check_new_run_folder, read_run_config

# What --resume accepts beside the run folder: the length, and how the run reports and saves.
RESUME_FLAGS = ("resume", "steps", "no_progress", "diagnose_every", "checkpoint_every")
HELP_FLAGS = ("-h", "--help")


def normalise(argv: list[str]) -> list[str]:
    """``train`` arguments with the task as the subcommand: ``--task X`` moved there, the
    language model when none is given, a resumed run's own task."""
    rest, task = list(argv[1:]), None
    for i, arg in enumerate(rest):
        if arg == "--task" or arg.startswith("--task="):
            value = arg.split("=", 1)[1] if "=" in arg else (rest[i + 1] if i + 1 < len(rest)
                                                             else "")
            del rest[i: i + (1 if "=" in arg else 2)]
            task = value
            break
    if task is None and rest and rest[0] in TASKS:
        task, rest = rest[0], rest[1:]
    if task is not None and task not in TASKS:
        raise RnnkitError(f"unknown task {task!r}; the tasks are {', '.join(TASKS)}")
    resumed = _resumed_task(rest)
    if resumed is not None:
        if task is not None and task != resumed:
            raise RnnkitError(f"the resumed run is a {resumed!r} run, not {task!r}")
        task = resumed
    if task is None:
        if any(a in HELP_FLAGS for a in rest):
            return ["train", *rest]
        task = "lm"
    return ["train", task, *rest]


def _resumed_task(rest: list[str]) -> str | None:
    for i, arg in enumerate(rest):
        if arg == "--resume" and i + 1 < len(rest):
            run = rest[i + 1]
        elif arg.startswith("--resume="):
            run = arg.split("=", 1)[1]
        else:
            continue
        return task_named(read_run_config(run).get("task"), f"'{run}'").name
    return None


def add_parser(commands) -> None:
    p = commands.add_parser("train", help="train a model of any task (default: the main job)",
                            description="Train a model. With no task: a 2-layer character LSTM "
                            "on the built-in Shakespeare plays (the main job).")
    tasks = p.add_subparsers(dest="task", metavar="TASK", title="tasks")
    for task in TASKS.values():
        sub = tasks.add_parser(task.name, help=task.help, description=task.help,
                               argument_default=argparse.SUPPRESS)
        add_common_train_flags(sub, task.cells)
        task.add_train_flags(sub)
        _show_defaults(sub, task.defaults)
        sub.owners = owners
        sub.set_defaults(handler=run, parser=sub)


def _show_defaults(p: argparse.ArgumentParser, defaults: dict) -> None:
    for action in p._actions:
        value = defaults.get(action.dest)
        if action.help and value is not None and not isinstance(value, bool):
            action.help += f" ({value})"


# Flags no task takes, with the reason.
REASONS = {"--bidirectional": "a language model must be causal, so it cannot be bidirectional: "
                              "the backward direction would read the very characters it has to "
                              "predict; classify and tag read both ways unless --unidirectional"}


def owners(flags: list[str]) -> str:
    """The train subcommands that take ``flags`` (or why none does), as a phrase."""
    reasons = [REASONS[f] for f in flags if f in REASONS]
    if reasons:
        return "; ".join(reasons)
    parsers = _subparsers()
    found = [name for name, parser in parsers.items()
             if any(f in parser._option_string_actions for f in flags)]
    return f"it is a flag of rnnkit train {', '.join(found)}" if found else ""


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    root = Parser(prog="rnnkit")
    add_parser(root.add_subparsers())
    train = root._subparsers._group_actions[0].choices["train"]
    return dict(train._subparsers._group_actions[0].choices)


def settings(task, given: dict) -> dict:
    """The run's settings: the flags given, else the task's defaults (``--steps`` and
    ``--epochs`` exclude each other, so the one given replaces the default of the other)."""
    s = {**task.defaults, **given}
    for flag, other in (("steps", "epochs"), ("epochs", "steps")):
        if flag in given:
            s.pop(other, None)
    return s


def launch(argv: list[str]) -> int | None:
    """``rnnkit train ... --nproc N`` outside torchrun: start N processes of the same command
    with torchrun on this machine and return its exit status (None: no --nproc, or already
    inside torchrun)."""
    if "WORLD_SIZE" in os.environ:
        return None
    for i, arg in enumerate(argv):
        if arg == "--nproc" or arg.startswith("--nproc="):
            value = arg.split("=", 1)[1] if "=" in arg else (argv[i + 1] if i + 1 < len(argv)
                                                             else "")
            rest = argv[:i] + argv[i + (1 if "=" in arg else 2):]
            try:
                n = positive_int(value)
            except argparse.ArgumentTypeError as e:
                raise RnnkitError(f"--nproc: {e}") from None
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       f"--nproc_per_node={n}", "-m", "rnnkit", *rest]
            return subprocess.run(command).returncode
    return None


def run(args: argparse.Namespace) -> int:
    task = TASKS[args.task]
    given = {k: v for k, v in vars(args).items() if k not in ("handler", "parser", "task",
                                                              "command", "nproc")}
    if restarted() and "resume" not in given and "out" in given:
        given = _after_restart(given)
    if "resume" in given:
        return _resume(task, given)
    s = settings(task, given)
    spec = task.spec(s)
    out = check_new_run_folder(Path(given["out"]) if "out" in given else task.default_out(s),
                               bool(given.get("overwrite")))
    result = train_run(task, out, spec, progress=not given.get("no_progress"),
                       checkpoint_every=given.get("checkpoint_every", task.checkpoint_every),
                       diagnose_every=given.get("diagnose_every"))
    return task.report(result, spec) if result.main else 0


def _after_restart(given: dict) -> dict:
    """A worker torchrun restarted after a failure continues from the run's last checkpoint,
    or starts the run again when none was written yet."""
    out = Path(given["out"])
    if (out / CONFIG_FILE).is_file() and (out / MODEL_FILE).is_file():
        return {"resume": given["out"], **{k: v for k, v in given.items()
                                           if k in RESUME_FLAGS and k != "steps"}}
    return {**given, "overwrite": True}


def _resume(task, given: dict) -> int:
    """Continue any run from its checkpoint, with its own data, model and settings."""
    fixed = [f"--{k.replace('_', '-')}" for k in given if k not in RESUME_FLAGS]
    if fixed:
        raise RnnkitError(f"--resume continues a run with its own settings; drop {', '.join(fixed)}"
                          " (only --steps may change)")
    run_dir = Path(given["resume"])
    saved = read_run_config(run_dir)
    spec = task.resume_spec(saved, run_dir, given.get("steps"))
    every = given.get("checkpoint_every", saved.get("checkpoint_every", task.checkpoint_every))
    result = train_run(task, run_dir, spec, saved=saved, progress=not given.get("no_progress"),
                       checkpoint_every=every, diagnose_every=given.get("diagnose_every"))
    return task.report(result, spec) if result.main else 0
