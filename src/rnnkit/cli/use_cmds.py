"""``rnnkit predict|evaluate|generate|diagnose RUN ...``: use a trained run of any task.

Which flags a command takes depends on the run's task (``--beam`` for a seq2seq run, ``--top``
for a classifier, ``--prompt`` for a language model), so the parser is built for RUN's task
once RUN is known: a flag of another task is refused in one line.

    rnnkit predict RUN TEXT... [-]       the task's predict(): labels, tags, continuations,
                                         outputs; - reads one input per line from stdin
    rnnkit evaluate RUN                  the run's figures on its test split (or --data FILE)
    rnnkit generate RUN                  stream text from a language model or a generator
    rnnkit diagnose RUN                  the gradient flow on a batch of the run's data
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.cli.parser import Parser
from rnnkit.errors import RnnkitError
from rnnkit.export.folder import MANIFEST, read_manifest
from rnnkit.export.runtime import load_portable
from rnnkit.tasks import TASKS, load, task_named
from rnnkit.tasks.flags import positive_int
from rnnkit.train.run_folder import read_run_config

COMMANDS = {
    "predict": "predict with a trained run: labels, tags, continuations or output sequences",
    "evaluate": "score a trained run again: bits per character or perplexity, accuracy and "
                "macro-F1, WER/BLEU, or a generator's test figures",
    "generate": "stream text from a language model or a conditional generator",
    "diagnose": "gradient flow of a trained run (lm, classify, tag)",
}

BACKENDS = ("torch", "onnxruntime")      # what --backend runs: the weights, or the ONNX export


def add_command(commands, name: str, task=None) -> Parser:
    """The parser of ``name`` for runs of ``task`` (None: every task's flags, to find RUN)."""
    p = commands.add_parser(name, help=COMMANDS[name], description=COMMANDS[name],
                            argument_default=argparse.SUPPRESS,
                            conflict_handler="resolve")
    p.add_argument("run", metavar="RUN", help="run folder written by rnnkit train")
    if name == "predict":
        p.add_argument("inputs", metavar="INPUT",
                       nargs="+" if task is not None and task.takes_inputs else "*",
                       help="text to label, sentence to tag, prompt or source to decode; '-' "
                            "reads one per line from stdin (a time-series run: .ts files)")
        p.add_argument("--json", action="store_true", help="print one JSON object per input")
    if name in ("predict", "generate"):
        p.add_argument("--backend", choices=BACKENDS,
                       help="torch: the run's weights; onnxruntime: its ONNX export (RUN is the "
                            "export folder, or a run folder holding export-onnx/) (torch)")
    if name == "diagnose":
        p.add_argument("--batch-size", type=positive_int, metavar="B",
                       help="sequences averaged over (8)")
    for t in ([task] if task is not None else TASKS.values()):
        getattr(t, f"add_{name}_flags")(p)
    p.set_defaults(handler=HANDLERS[name], parser=p)
    return p


def parser_for(argv: list[str]) -> Parser:
    """The root parser with ``argv[0]``'s command built for the task of the run it names."""
    from rnnkit.cli.main import build_parser
    name = argv[0]
    every = add_command(Parser(prog="rnnkit").add_subparsers(), name)
    probe = Parser(prog=f"rnnkit {name}", add_help=False)   # finds RUN, checks nothing else
    probe.add_argument("run")
    for action in every._actions:
        if action.option_strings and action.dest != "help":
            if action.nargs == 0:
                probe.add_argument(*action.option_strings, dest=action.dest,
                                   action="store_true")
            else:
                probe.add_argument(*action.option_strings, dest=action.dest,
                                   nargs=action.nargs)
    args, _ = probe.parse_known_args(argv[1:])
    config = run_config(args.run)
    task = task_named(config.get("task"), f"'{args.run}'")
    if name == "generate" and not task.can_generate:
        task.generate(Path(args.run), {})
    if name == "diagnose" and not task.can_diagnose:
        task.diagnosis_batch(Path(args.run), config, None, None, 0, {})
    root = build_parser(skip=name)
    sub = add_command(root._subparsers._group_actions[0], name, task)
    sub.prog = f"rnnkit {name}"
    sub.owners = lambda flags: f"'{args.run}' is a run of task {task.name}"
    return root


def _options(args: argparse.Namespace, *drop: str) -> dict:
    return {k: v for k, v in vars(args).items()
            if k not in ("handler", "parser", "command", "run", "backend", *drop)}


def run_config(run: str) -> dict:
    """RUN's config.json; for an export folder (manifest.json and no config.json), its task."""
    if (Path(run) / MANIFEST).is_file() and not (Path(run) / "config.json").is_file():
        return {"task": read_manifest(run)["task"]}
    return read_run_config(run)


def _load(args: argparse.Namespace) -> tuple:
    """(model, codec) of RUN on ``--backend``."""
    if getattr(args, "backend", "torch") == "onnxruntime":
        return load_portable(args.run)
    if (Path(args.run) / MANIFEST).is_file() and not (Path(args.run) / "config.json").is_file():
        raise RnnkitError(f"'{args.run}' is an export folder: add --backend onnxruntime")
    return load(args.run)


def _stdin_lines() -> list[str]:
    """stdin's lines as UTF-8 text, whatever the locale says (a C locale would let bytes that
    are not text through as surrogates); binary or wrongly encoded input refused in one line."""
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise RnnkitError(f"stdin looks binary (NUL byte at offset {nul}); give UTF-8 text, "
                          "one input per line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise RnnkitError(f"stdin line {line} is not valid UTF-8 (byte 0x{raw[e.start]:02x}); "
                          "give UTF-8 text, one input per line") from None
    return text.removeprefix("\ufeff").splitlines()


def read_inputs(items: list[str]) -> list[str]:
    """Arguments, with '-' replaced by the lines of stdin; an empty one refused in one line."""
    out = []
    for i, item in enumerate(items, start=1):
        if item == "-":
            out += [(f"stdin line {n}", line) for n, line in enumerate(_stdin_lines(), 1)]
        else:
            out.append((f"argument {i}", item))
    for where, text in out:
        if not text.strip():
            raise RnnkitError(f"the text of {where} is empty: nothing to predict")
    if not out:
        raise RnnkitError("no text to predict (stdin was empty)")
    return [text for _, text in out]


def predict(args: argparse.Namespace) -> int:
    task = task_named(run_config(args.run)["task"])
    model, codec = _load(args)
    options = _options(args, "inputs", "json", "attention_png")
    png = getattr(args, "attention_png", None)
    if png is not None:
        options["attention"] = True
    items = getattr(args, "inputs", [])
    inputs = task.read_inputs(read_inputs(items) if items or task.takes_inputs else [], codec)
    outputs = task.predict(model, codec, inputs, **options)
    for output in outputs:
        print(json.dumps(output, ensure_ascii=False) if getattr(args, "json", False)
              else task.show(output))
    if png is not None:
        _attention_pngs(outputs, Path(png))
    return 0


def _attention_pngs(outputs: list[dict], path: Path) -> None:
    import torch
    from rnnkit.infer.attention_plot import plot_attention
    if path.is_dir():
        raise RnnkitError(f"--attention-png '{path}' is a folder; give a file name")
    for n, output in enumerate(outputs):
        att = output["attention"]
        if att["weights"] is None:
            raise RnnkitError("this model returns no attention weights to draw")
        target = path if len(outputs) == 1 else \
            path.with_name(f"{path.stem}-{n + 1}{path.suffix}")
        plot_attention(torch.tensor(att["weights"]), att["source"], att["target"], target,
                       title=f"attention: {output['source']}")


def evaluate(args: argparse.Namespace) -> int:
    config = read_run_config(args.run)
    return task_named(config["task"]).evaluate(Path(args.run), config, _options(args))


def generate(args: argparse.Namespace) -> int:
    task = task_named(run_config(args.run)["task"])
    loaded = _load(args) if (Path(args.run) / MANIFEST).is_file() or \
        getattr(args, "backend", "torch") == "onnxruntime" else None
    return task.generate(Path(args.run), _options(args), loaded=loaded)


def diagnose(args: argparse.Namespace) -> int:
    from rnnkit.cli.diagnose_cmd import diagnose_run
    return diagnose_run(args, _options(args, "batch_size"))


HANDLERS = {"predict": predict, "evaluate": evaluate, "generate": generate, "diagnose": diagnose}
