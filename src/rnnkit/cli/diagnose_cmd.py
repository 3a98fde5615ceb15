"""``rnnkit diagnose RUN`` (built by :mod:`rnnkit.cli.use_cmds`): the gradient flow of a trained run on a batch of its data.

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

from rnnkit.models.encoders import STATELESS
from rnnkit.tasks import load, task_named
from rnnkit.train.diagnostics import FLOW_FILE, gradient_flow, record_flow, stateless_note
from rnnkit.train.diagnostics_plot import summary_lines, write_report
from rnnkit.train.metrics import MetricsLog, read_metrics
from rnnkit.train.run_folder import read_run_config


def diagnose_run(args: argparse.Namespace, options: dict) -> int:
    config = read_run_config(args.run)
    task = task_named(config["task"])
    model, codec = load(args.run)
    batch, loss_fn, what = task.diagnosis_batch(Path(args.run), config, model, codec,
                                                getattr(args, "batch_size", 8), options)
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


def trained_steps(run: str) -> int:
    """The last step in the run's metrics (0 when it has none)."""
    path = Path(run) / "metrics.jsonl"
    records = read_metrics(path) if path.is_file() else []
    return max((int(r.get("step", 0)) for r in records), default=0)
