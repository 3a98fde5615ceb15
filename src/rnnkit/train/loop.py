"""A training loop that knows no particular model: BPTT, truncated BPTT, clipping, resume.

Contract with the model and the data (nothing else is assumed)::

    outputs, new_state = model(batch.inputs, state)      # state: None | Tensor | nested tuple/list
    loss = loss_fn(outputs, batch.targets)               # scalar mean loss
    batch.reset                                          # True: start from state None

(``model(inputs, state, lengths=batch.lengths)`` when the batch has non-None ``lengths``.)

Full BPTT over independent sequences: every batch has ``reset=True``, so each starts from a
zero state and the gradient flows through all of its steps. Truncated BPTT over one stream
(Williams & Peng 1990): consecutive windows have ``reset=False``; the state returned by window
``k`` is carried into window ``k+1`` *detached* (``detach_state``), so the forward pass
continues where it stopped while back-propagation stops at the window boundary and the
autograd graph never grows across windows.

One step reads top to bottom: zero grads, forward, loss (plus the model's ``penalty``, when the
task gives one: AWD-LSTM's activation regularisation), backward, clip, step. A step whose loss
or gradient norm is NaN/Inf is skipped (no update, carried state dropped) and counted;
``max_bad_steps`` in a row raise :class:`~rnnkit.errors.RnnkitError`, so a diverged model is
never trained on, and ``params_finite`` lets the caller refuse to save one.

With ``config.asgd_nonmono`` the iterates are averaged once the validation loss stops improving
(NT-ASGD, :mod:`rnnkit.train.averaging`): evaluations and checkpoints then see the average
(:meth:`Trainer.averaged`), the optimizer the raw weights, which the trainer state keeps.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict
from typing import Callable, Iterable, Iterator

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.train.averaging import NTASGD
from rnnkit.train.config import TrainConfig
from rnnkit.train.metrics import MetricsLog
from rnnkit.train.optim import clip_gradients, make_optimizer
from rnnkit.train.progress import (Window, bpc_postfix, figure_postfix, loss_postfix,
                                   ppl_postfix)
from rnnkit.train.rng import rng_state, seed_everything, set_rng_state
from rnnkit.train.schedule import frozen, warmup_cosine
from rnnkit.train.state import State, detach_state, map_state


def evaluate_loss(
    model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], batches: Iterable[Batch]
) -> dict:
    """Token-weighted mean loss over ``batches`` without gradients, carrying state like training.

    Each batch's mean loss is weighted by ``targets.numel()``. Returns ``{"loss", "tokens"}``
    (loss in nats; divide by ln 2 for bits per character). The model's train/eval mode is
    restored afterwards.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with torch.no_grad():
            for batch in batches:
                state = None if batch.reset else state
                outputs, state = _forward(model, batch, batch.inputs.to(device), state)
                n = batch.targets.numel()
                total += float(loss_fn(outputs, batch.targets.to(device))) * n
                count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise RnnkitError("nothing to evaluate: the validation batches are empty")
    return {"loss": total / count, "tokens": count}


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The forward's precision context: bfloat16 autocast for "bf16", a no-op for "fp32"."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _forward(model: nn.Module, batch: Batch, inputs: Tensor, state: State) -> tuple:
    lengths = getattr(batch, "lengths", None)
    if lengths is None:
        return model(inputs, state)
    return model(inputs, state, lengths=lengths)


class Trainer:
    """Optimises any ``model(inputs, state) -> (outputs, state)`` with AdamW (or SGD), warm-up
    and cosine decay.

    ``penalty()``, when given, is asked right after each training forward for a scalar the
    model adds to that step's loss (or None); the logged ``loss`` stays ``loss_fn``'s, the
    penalty is logged beside it.

    Constructing a Trainer seeds every RNG from ``config.seed``. ``self.state`` is the recurrent
    state carried between truncated-BPTT windows (always detached, or None).
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        *,
        optimizer: torch.optim.Optimizer | None = None,
        layers: list[list[nn.Parameter]] | None = None,
        penalty: Callable[[], Tensor | None] | None = None,
    ) -> None:
        seed_everything(config.seed)
        self.model = model
        self.config = config
        self.loss_fn = loss_fn
        self.optimizer = optimizer if optimizer is not None else \
            make_optimizer(model, config, layers)
        self.scheduler = self._schedule(start_step=0)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.device = self.params[0].device
        self.step = 0  # optimizer updates done (skipped steps excluded)
        self.bad_steps_total = 0  # non-finite steps skipped so far
        self.bad_steps_in_a_row = 0  # consecutive non-finite steps; reset by a good step
        self.state: State = None  # detached state carried into the next window
        self.penalty = penalty  # the model's extra loss term of the forward just run (or None)
        self.asgd = NTASGD(self.params, config.asgd_nonmono) if config.asgd_nonmono else None

    def _schedule(self, start_step: int) -> torch.optim.lr_scheduler.LambdaLR:
        c = self.config
        return warmup_cosine(
            self.optimizer, c.warmup_steps, c.steps, c.min_lr_ratio, start_step=start_step,
            unfreeze_every=c.unfreeze_every,
        )

    def train_step(self, batch: Batch) -> dict:
        """One update on one batch (zero grads, forward, loss, backward, clip, step).

        Returns ``{"step": updates done so far, "loss": float (nats), "grad_norm": pre-clip
        global norm, "clipped": bool, "lr": lr used, "skipped": bool (non-finite, no update),
        "bad_steps": skipped so far, "tokens": input positions in the batch}``.
        """
        self.model.train()
        inputs = batch.inputs.to(self.device, non_blocking=True)
        targets = batch.targets.to(self.device, non_blocking=True)
        state = None if batch.reset else self.state
        lr = self.optimizer.param_groups[0]["lr"]

        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.config.precision):
            outputs, new_state = _forward(self.model, batch, inputs, state)
        loss = self.loss_fn(outputs.float(), targets)  # the loss in float32 at any precision
        penalty = None if self.penalty is None else self.penalty()
        objective = loss if penalty is None else loss + penalty
        loss_value = float(loss.detach())
        objective_value = loss_value if penalty is None else float(objective.detach())
        grad_norm, clipped = math.nan, False
        if math.isfinite(objective_value):
            objective.backward()
            for group in self.optimizer.param_groups:
                if frozen(group):         # gradual unfreezing: no update, no share of the norm
                    for p in group["params"]:
                        p.grad = None
            grad_norm, clipped = clip_gradients(self.params, self.config.clip_norm)

        skipped = not (math.isfinite(objective_value) and math.isfinite(grad_norm))
        if skipped:  # no update from a NaN/Inf; start the next window from a fresh state
            self.optimizer.zero_grad(set_to_none=True)
            self.state = None
            self.bad_steps_total += 1
            self.bad_steps_in_a_row += 1
        else:
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            if self.asgd is not None:
                self.asgd.updated()
            self.state = detach_state(new_state)  # truncated BPTT: carry the value, not the graph
            self.bad_steps_in_a_row = 0

        if self.bad_steps_in_a_row >= self.config.max_bad_steps:
            raise RnnkitError(
                f"training diverged: {self.bad_steps_in_a_row} non-finite losses in a row at step "
                f"{self.step}; try a lower --lr or --clip"
            )
        lengths = getattr(batch, "lengths", None)
        tokens = int(lengths.sum()) if lengths is not None else inputs.shape[0] * inputs.shape[1]
        return {
            "step": self.step,
            "loss": loss_value,
            **({} if penalty is None else {"penalty": float(penalty.detach())}),
            "grad_norm": grad_norm,
            "clipped": clipped,
            "lr": lr,
            "skipped": skipped,
            "bad_steps": self.bad_steps_total,
            "tokens": tokens,
        }

    def fit(
        self,
        batches: Iterable[Batch],
        *,
        evaluate: Callable[[], dict] | None = None,
        on_step: Callable[[dict], None] | None = None,
        log: MetricsLog | None = None,
        postfix: Callable[[dict, dict | None], dict[str, str]] = loss_postfix,
        progress: bool = True,
        probe: Callable[[int, Batch], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> dict | None:
        """Train from ``self.step`` up to ``config.steps``; return the last evaluation (or None).

        Every ``log_every`` steps (and on every skipped step) a ``{"kind": "train", ...}`` record
        with the step metrics plus ``loss_avg``, ``tokens_per_s``, ``window_steps``,
        ``clipped_steps`` and ``grad_norm_max`` (largest finite pre-clip norm) over the steps since
        the last record goes to ``log`` and the progress bar. ``evaluate()`` runs every
        ``eval_every`` steps and at the end; its dict is logged as ``{"kind": "eval", ...}``.
        ``probe(step, batch)`` is called after every update with the batch it used (gradient
        diagnostics, ``rnnkit.train.diagnostics``); None costs nothing. ``on_step(metrics)`` is
        called last in every step, after the probe and any evaluation, so that a checkpoint it
        writes holds everything the step did (its RNG draws included). ``should_stop()`` is
        asked between steps; when it says True, training ends there (a signal asked for it) and
        the closing evaluation is skipped. A finite iterable of batches is iterated again when it
        runs out.
        """
        cfg = self.config
        bar = tqdm(total=cfg.steps, initial=self.step, unit="step", disable=not progress)
        window = Window()
        last_eval: dict | None = None
        source = self._cycle(batches)
        try:
            while self.step < cfg.steps:
                batch = next(source)
                metrics = self.train_step(batch)
                window.add(metrics)
                bar.update(0 if metrics["skipped"] else 1)
                if metrics["skipped"] or self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    record = {"kind": "train", **metrics, **window.summary()}
                    if log is not None:
                        log.write(record)
                    bar.set_postfix(postfix(record, last_eval), refresh=False)
                    window = Window()
                if probe is not None and not metrics["skipped"]:
                    probe(self.step, batch)
                due = cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.steps
                if evaluate is not None and not metrics["skipped"] and due:
                    last_eval = self._evaluate(evaluate, log)
                    window = window.restart()  # tokens/s should not count evaluation time
                if on_step is not None:
                    on_step(metrics)
                if should_stop is not None and should_stop():
                    return last_eval
            if evaluate is not None:
                last_eval = self._evaluate(evaluate, log)
        finally:
            bar.close()
        return last_eval

    def _cycle(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        """Batches forever: a finite re-iterable source starts over, an exhausted one errors."""
        while True:
            empty = True
            for batch in batches:
                empty = False
                yield batch
            if empty:
                raise RnnkitError(f"the batches ran out at step {self.step} of {self.config.steps}")

    def _evaluate(self, evaluate: Callable[[], dict], log: MetricsLog | None) -> dict:
        with self.averaged():
            result = evaluate()
        if self.asgd is not None:
            averaged = 0 if self.asgd.average is None else self.asgd.average.count
            started = self.asgd.observe(result["loss"], self.step)
            result = {**result, "averaged_steps": averaged,
                      **({"asgd_starts": True} if started else {})}
        if log is not None:
            log.write({"kind": "eval", "step": self.step, **result})
        return result

    def averaged(self) -> contextlib.AbstractContextManager:
        """A context in which the model holds the weights to evaluate and save: NT-ASGD's
        average once it has started, else (and always without ``asgd_nonmono``) its own."""
        return contextlib.nullcontext() if self.asgd is None else self.asgd.averaged()

    def state_dict(self) -> dict:
        """Everything but the weights (saved separately) that a resumed run needs (with NT-ASGD,
        the raw weights too: the saved ones are then the average).

        The learning-rate schedule is a pure function of ``step``, so it is rebuilt from the
        step rather than saved; ``config`` is recorded for reference only.
        """
        return {
            "step": self.step,
            "bad_steps_total": self.bad_steps_total,
            "bad_steps_in_a_row": self.bad_steps_in_a_row,
            "optimizer": self.optimizer.state_dict(),
            "rng": rng_state(),
            "carried_state": map_state(self.state, lambda t: t.detach().cpu()),
            "config": asdict(self.config),
            **({} if self.asgd is None else {"asgd": self.asgd.state_dict()}),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue a saved run: load the weights into the model first, then call this.

        Optimizer moments, step, counters, RNG and carried state are restored; optimizer
        hyper-parameters and the schedule come from *this* trainer's config, so a run resumed
        with a larger ``steps`` stretches its cosine over the new total.
        """
        groups = self.optimizer.param_groups
        current = [{k: v for k, v in g.items() if k != "params"} for g in groups]
        self.optimizer.load_state_dict(state["optimizer"])
        for group, settings in zip(self.optimizer.param_groups, current):
            group.update(settings)
        self.step = int(state["step"])
        self.bad_steps_total = int(state["bad_steps_total"])
        self.bad_steps_in_a_row = int(state["bad_steps_in_a_row"])
        self.scheduler = self._schedule(start_step=self.step)
        self.state = map_state(state["carried_state"], lambda t: t.to(self.device))
        if self.asgd is not None:
            self.asgd.load_state_dict(state["asgd"])
        set_rng_state(state["rng"])


__all__ = ["Trainer", "evaluate_loss", "autocast", "State", "map_state", "detach_state",
           "make_optimizer", "clip_gradients", "loss_postfix", "figure_postfix", "bpc_postfix",
           "ppl_postfix"]
