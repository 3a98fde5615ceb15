"""``rnnkit diagnose RUN``: the gradient flow of a trained run on a batch of its data.

A language model: the first window of the run's validation text (``--batch-size`` lanes of
``--seq-len`` characters, the run's own by default). A classifier or tagger: the first
``--batch-size`` examples of its test split, padded (the loss of a tagger's last real token).
Records the norm of the last position's loss gradient at
every timestep and layer into the run folder's ``gradient_flow.jsonl`` (after any probes written
during training), and draws ``gradient_heatmap.png``, ``gradient_distance.png`` and
``diagnostics.json`` with the run's clipping, largest-norm and NaN/Inf figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli.args import positive_int
from rnnkit.data import eval_windows
from rnnkit.data.padded import pad_batch
from rnnkit.errors import RnnkitError
from rnnkit.infer import load
from rnnkit.models.encoders import STATELESS
from rnnkit.train.diagnostics import FLOW_FILE, gradient_flow, record_flow, stateless_note
from rnnkit.train.diagnostics_plot import summary_lines, write_report
from rnnkit.train.lm_job import lm_loss, read_corpus, read_run_config, split_text
from rnnkit.train.metrics import MetricsLog, read_metrics
from rnnkit.train.task_data import encode_split
from rnnkit.train.task_eval import evaluation_split, load_task_model
from rnnkit.train.task_job import classify_loss, tag_loss


def add_parser(commands) -> None:
    p = commands.add_parser("diagnose", help="gradient flow of a trained run",
                            description="Measure the norm of dLoss/dh_t at every timestep and "
                            "layer on a batch of the run's data, and draw it.")
    p.add_argument("run", metavar="RUN",
                   help="run folder written by rnnkit train (lm, classify or tag)")
    p.add_argument("--seq-len", type=positive_int, metavar="T", help="timesteps (the run's)")
    p.add_argument("--batch-size", type=positive_int, default=8, metavar="B",
                   help="sequences averaged over (8)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = read_run_config(args.run)
    if config["task"] == "lm":
        model, batch, loss_fn, what = _lm_batch(args, config)
    elif config["task"] in ("classify", "tag"):
        if args.seq_len is not None:
            raise RnnkitError(f"--seq-len applies to language-model runs; a {config['task']} "
                              "run reads whole examples")
        model, batch, loss_fn, what = _task_batch(args, config)
    else:
        raise RnnkitError(f"'{args.run}' is a {config['task']!r} run; rnnkit diagnose reads "
                          "lm, classify and tag runs")
    cell = config["model"]["cell"]
    if cell in STATELESS:
        print(f"rnnkit: note: {stateless_note(cell)}", file=sys.stderr)
    norms, nonfinite = gradient_flow(model, loss_fn, batch)
    step = trained_steps(args.run)
    record_flow(MetricsLog(Path(args.run) / FLOW_FILE), step, norms, nonfinite)
    summary = write_report(args.run, cell=cell, title=f"{cell} {what}")
    print(f"gradient flow of {cell} at step {step} over {norms.shape[1]} timesteps, "
          f"{norms.shape[0]} layer(s), {len(batch.targets)} sequences:")
    for line in summary_lines(summary):
        print(f"  {line}")
    print(f"written: {FLOW_FILE}, gradient_heatmap.png, gradient_distance.png, diagnostics.json "
          f"in {args.run}")
    return 0



def _lm_batch(args, config):
    """The first window of the run's validation text: ``--batch-size`` lanes of T characters."""
    model, tokenizer = load(args.run)
    seq_len = args.seq_len or config["data"]["seq_len"]
    text, val_start = read_corpus(config["data"]["data"])
    ids = tokenizer.encode(split_text(text, val_start, config["data"]["val_fraction"])[1])
    lanes = min(args.batch_size, max(1, (len(ids) - 1) // seq_len))
    return model, next(iter(eval_windows(ids, lanes, seq_len))), lm_loss, "language model"


def _task_batch(args, config):
    """The first ``--batch-size`` examples of the run's test split, right-padded; the loss of a
    classifier (one label per example) or of a tagger's last real token."""
    model, codec, _ = load_task_model(args.run)
    where, split = evaluation_split(config, None)
    inputs, targets = encode_split(codec, split, what=f"'{where}'")
    if not inputs:
        raise RnnkitError(f"'{args.run}' has no test examples to diagnose on")
    batch = pad_batch(inputs[: args.batch_size], targets[: args.batch_size])
    loss_fn = tag_loss if config["task"] == "tag" else classify_loss(None)
    return model, batch, loss_fn, "tagger" if config["task"] == "tag" else "classifier"


def trained_steps(run: str) -> int:
    """The last step in the run's metrics (0 when it has none)."""
    path = Path(run) / "metrics.jsonl"
    records = read_metrics(path) if path.is_file() else []
    return max((int(r.get("step", 0)) for r in records), default=0)
