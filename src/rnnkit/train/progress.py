"""What the progress bar and the metrics log show: running sums over the steps since the last
record, and the progress-bar fields of each kind of run."""

from __future__ import annotations

import math
import time
from typing import Callable

from rnnkit.train.metrics import LN2


def loss_postfix(train: dict, evaluation: dict | None) -> dict[str, str]:
    """Progress-bar fields: smoothed loss, tokens/s, and the last validation loss."""
    fields = {"loss": f"{train['loss_avg']:.3f}", "tok/s": f"{train['tokens_per_s']:,.0f}"}
    if evaluation is not None:
        fields["val"] = f"{evaluation['loss']:.3f}"
    return fields


def figure_postfix(name: str, figure: Callable[[float], str]):
    """Progress-bar fields of a language model: loss, ``name`` (``figure`` of the smoothed loss
    in nats), tokens/s, and ``val_<name>`` of the last validation loss."""

    def postfix(train: dict, evaluation: dict | None) -> dict[str, str]:
        fields = {"loss": f"{train['loss_avg']:.3f}", name: figure(train["loss_avg"]),
                  "tok/s": f"{train['tokens_per_s']:,.0f}"}
        if evaluation is not None:
            fields[f"val_{name}"] = figure(evaluation["loss"])
        return fields

    return postfix


# a character LM's bits per character (loss / ln 2); a word LM's perplexity (exp loss)
bpc_postfix = figure_postfix("bpc", lambda loss: f"{loss / LN2:.3f}")
ppl_postfix = figure_postfix("ppl", lambda loss: f"{math.exp(min(loss, 50.0)):.1f}")


class Window:
    """Running sums over the steps since the last metrics record."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.losses: list[float] = []
        self.tokens = 0
        self.steps = 0
        self.clipped = 0
        self.grad_norm_max = 0.0

    def add(self, metrics: dict) -> None:
        self.tokens += metrics["tokens"]
        self.steps += 1
        self.clipped += metrics["clipped"]
        if math.isfinite(metrics["grad_norm"]):  # NaN/Inf steps are counted as bad steps
            self.grad_norm_max = max(self.grad_norm_max, metrics["grad_norm"])
        if not metrics["skipped"]:
            self.losses.append(metrics["loss"])

    def restart(self) -> "Window":
        """A fresh window that keeps the step, clipping and largest-norm counts."""
        window = Window()
        window.steps, window.clipped = self.steps, self.clipped
        window.grad_norm_max = self.grad_norm_max
        return window

    def summary(self) -> dict:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        loss_avg = sum(self.losses) / len(self.losses) if self.losses else math.nan
        return {"loss_avg": loss_avg, "tokens_per_s": self.tokens / elapsed,
                "window_steps": self.steps, "clipped_steps": self.clipped,
                "grad_norm_max": self.grad_norm_max}
