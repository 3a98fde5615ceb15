"""``rnnkit diagnose RUN``: the gradient flow of a trained language model on a batch of its data.

Takes the first window of the run's validation text (``--batch-size`` lanes of ``--seq-len``
characters, the run's own by default), records the norm of the last position's loss gradient at
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
from rnnkit.errors import RnnkitError
from rnnkit.infer import load
from rnnkit.models.encoders import STATELESS
from rnnkit.train.diagnostics import FLOW_FILE, gradient_flow, record_flow, stateless_note
from rnnkit.train.diagnostics_plot import summary_lines, write_report
from rnnkit.train.lm_job import lm_loss, read_corpus, read_run_config, split_text
from rnnkit.train.metrics import MetricsLog, read_metrics


def add_parser(commands) -> None:
    p = commands.add_parser("diagnose", help="gradient flow of a trained run",
                            description="Measure the norm of dLoss/dh_t at every timestep and "
                            "layer on a batch of the run's validation text, and draw it.")
    p.add_argument("run", metavar="RUN", help="run folder written by rnnkit train")
    p.add_argument("--seq-len", type=positive_int, metavar="T", help="timesteps (the run's)")
    p.add_argument("--batch-size", type=positive_int, default=8, metavar="B",
                   help="sequences averaged over (8)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = read_run_config(args.run)
    if config["task"] != "lm":
        raise RnnkitError(f"'{args.run}' is a {config['task']!r} run; rnnkit diagnose reads "
                          "language-model runs (train others with --diagnose-every)")
    model, tokenizer = load(args.run)
    cell = config["model"]["cell"]
    if cell in STATELESS:
        print(f"rnnkit: note: {stateless_note(cell)}", file=sys.stderr)
    seq_len = args.seq_len or config["data"]["seq_len"]
    text, val_start = read_corpus(config["data"]["data"])
    ids = tokenizer.encode(split_text(text, val_start, config["data"]["val_fraction"])[1])
    lanes = min(args.batch_size, max(1, (len(ids) - 1) // seq_len))
    batch = next(iter(eval_windows(ids, lanes, seq_len)))
    norms, nonfinite = gradient_flow(model, lm_loss, batch)
    step = trained_steps(args.run)
    record_flow(MetricsLog(Path(args.run) / FLOW_FILE), step, norms, nonfinite)
    summary = write_report(args.run, cell=cell, title=f"{cell} language model")
    print(f"gradient flow of {cell} at step {step} over {norms.shape[1]} timesteps, "
          f"{norms.shape[0]} layer(s), {lanes} sequences:")
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
