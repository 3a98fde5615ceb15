"""What every experiment shares: budgets, a small sequence model, training, and the report.

An experiment is a function ``run(budget, out_dir) -> Result``. Its :class:`Result` is written
as ``report.md`` (a table and the plots) and ``result.json`` under the output folder, and can be
merged into ``docs/experiments.md`` / ``docs/experiments.json`` (:mod:`.publish`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from rnnkit.data.batch import SequenceBatch
from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import build_encoder
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer
from rnnkit.train.metrics import MetricsLog

BUDGETS = ("small", "full")


@dataclass(frozen=True)
class Budget:
    """How much compute an experiment may spend."""

    name: str        # "small (N <unit>)", "full (N <unit>)" or "N <unit>" (updates, tokens...)
    updates: int     # optimizer updates per trained model (streaming: tokens; speed: rounds)
    scale: int       # 0 for small, 1 for full: experiments pick their grid from it


def parse_budget(text: str, *, small: int, full: int, minimum: int, experiment: str,
                 unit: str = "updates") -> Budget:
    """``small``, ``full`` or a number of ``unit`` (updates per model for most experiments,
    tokens generated for streaming); a number below ``minimum`` is refused."""
    if text == "small":
        return Budget(f"small ({small} {unit})", small, 0)
    if text == "full":
        return Budget(f"full ({full} {unit})", full, 1)
    try:
        updates = int(text)
    except ValueError:
        raise RnnkitError(f"--budget must be small, full or a number of {unit}, got "
                          f"{text!r}") from None
    if updates < minimum:
        why = "untrained models would be compared; " if unit == "updates" else ""
        raise RnnkitError(f"a budget of {updates} {unit} is too small to say anything for "
                          f"{experiment}: {why}use at least {minimum} (small is {small}, "
                          f"full is {full})")
    return Budget(f"{updates} {unit}", updates, int(updates >= full))


@dataclass
class Result:
    """One experiment's outcome: what was run, its table, its plots and what it shows."""

    name: str                                  # experiment name
    command: str                               # the command that produced it
    budget: str                                # small / full / N updates
    columns: list[str]                         # table header
    rows: list[list]                           # table rows, one per measurement
    findings: list[str] = field(default_factory=list)   # one sentence each
    plots: list[str] = field(default_factory=list)      # PNG file names in the output folder
    seconds: float = 0.0                       # wall time of the run

    def markdown(self, image_dir: str = ".") -> str:
        lines = [f"## {self.name}", "", f"`{self.command}` (budget: {self.budget}, "
                 f"{self.seconds / 60:.1f} min on this machine)", ""]
        lines += ["| " + " | ".join(self.columns) + " |",
                  "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in self.rows]
        lines.append("")
        lines += [f"- {f}" for f in self.findings]
        lines.append("")
        lines += [f"![{p}]({image_dir}/{p})" for p in self.plots]
        return "\n".join(lines) + "\n"

    def table(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def _cell(v) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def write_result(result: Result, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(f"# rnnkit experiment: {result.name}\n\n"
                                       + result.markdown(), encoding="utf-8")
    payload = {**asdict(result), "table": result.table()}
    (out_dir / "result.json").write_text(json.dumps(_strict(payload), indent=2,
                                                    ensure_ascii=False), encoding="utf-8")
    return out_dir / "report.md"


def _strict(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_strict(v) for v in x]
    return x


class SequenceModel(nn.Module):
    """Input layer -> any encoder (``--cell``) -> linear head, at every position or the last.

    ``vocab_size`` set: token ids (B, T) are embedded; otherwise x (B, T, I) is read as is.
    ``per_position``: logits (B, T, C) (tagging); else (B, C) from the last position.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, out_size: int, *,
                 num_layers: int = 1, vocab_size: int | None = None, per_position: bool = False,
                 bidirectional: bool = False, **options) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, input_size) if vocab_size else None
        self.encoder = build_encoder(cell, input_size, hidden_size, num_layers,
                                     bidirectional=bidirectional, **options)
        self.head = nn.Linear(self.encoder.output_size, out_size)
        self.per_position = per_position

    def forward(self, x: Tensor, state=None, *, lengths: Tensor | None = None):
        if self.embed is not None:
            x = self.embed(x)                                        # (B, T, E)
        h, state = self.encoder(x, state, lengths=lengths)           # (B, T, D*H)
        if self.per_position:
            return self.head(h), state                               # (B, T, C)
        return self.head(h[:, -1]), state                            # (B, C)


def encoder_params(model: SequenceModel) -> int:
    return sum(p.numel() for p in model.encoder.parameters())


def matched_width(cell: str, target: int, make: Callable[[int], SequenceModel], *,
                  step: int = 2) -> int:
    """The hidden width (a multiple of ``step``) whose encoder has closest to ``target`` params."""
    best, best_gap = step, math.inf
    for width in range(step, 1025, step):
        gap = abs(encoder_params(make(width)) - target)
        if gap < best_gap:
            best, best_gap = width, gap
        elif encoder_params(make(width)) > target:
            break
    return best


class EarlyStop(Exception):
    """Raised by a ``probe`` to end :func:`train` early (a target reached): not an error."""


def train(model: nn.Module, batches: Iterator[SequenceBatch], loss_fn, *, steps: int,
          lr: float = 3e-3, clip: float | None = 1.0, log_path: Path | None = None,
          probe=None, seed: int = 0) -> str | None:
    """Train ``model`` for ``steps`` updates with the library's Trainer (no progress bar).

    Returns None, or the trainer's one-line reason when it stopped a diverged run (20 NaN/Inf
    steps in a row). A probe that raises :class:`EarlyStop` ends training; None is returned.
    """
    config = TrainConfig(steps=steps, lr=lr, warmup_steps=min(50, steps // 10), clip_norm=clip,
                         log_every=max(1, steps // 100), eval_every=0, seed=seed,
                         max_bad_steps=20)
    trainer = Trainer(model, config, loss_fn)
    if log_path is not None:
        log_path.unlink(missing_ok=True)
    log = MetricsLog(log_path) if log_path is not None else None
    try:
        trainer.fit(batches, log=log, progress=False, probe=probe)
    except EarlyStop:
        return None
    except RnnkitError as e:
        if "diverged" not in str(e):
            raise
        return str(e)
    return None


def one_thread() -> None:
    """Experiments share two cores: torch uses one thread (oversubscribed threads stall each
    other; docs/benchmarks.md)."""
    torch.set_num_threads(1)
