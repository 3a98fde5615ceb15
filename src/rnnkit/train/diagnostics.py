"""Gradient-flow diagnostics: how much of the loss's gradient reaches each timestep and layer.

For a batch, the loss of the *last* position (the whole loss for one label per sequence) is
differentiated with respect to every layer's output sequence h^l (B, T, H), and the norm

.. math::
    g^l_t = \\frac{1}{B} \\sum_b \\Big\\lVert \\frac{\\partial \\mathcal{L}_{T}}{\\partial h^l_{b,t}}
    \\Big\\rVert_2

is kept for each t, so the distance from the loss is exactly T - 1 - t. In a recurrent layer
``dL/dh_t = dL/dh_{t+1} * dh_{t+1}/dh_t`` repeats T - 1 - t times: the product shrinks
(vanishing) or grows (exploding) geometrically with the distance unless the Jacobians stay near
norm 1 (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013, sec. 2). The *vanishing
factor* of a layer is g_0 / g_{T-1}: about 1 for a memory that keeps its gradient, tiny for one
that forgets. For an encoder without recurrent state (mlp, cnn, transformer) the same norms
measure the gradient through the window, the convolutions or attention instead of through a
chain of states: an MLP's is exactly zero beyond its window.

How the layers are exposed: :func:`exposed_layers` runs the model once with each of its encoders
(``models.encoders.ENCODER_TYPES``) swapped for a version that keeps, per layer, a tensor whose
gradient is dL/dh^l: a zero perturbation added to a recurrent layer's state at every step
(``models.state_probe``: the gradient of a layer's *output* would miss its own recurrence), or
a stateless layer's output (``models.encoders.forward_layers``). Nothing is registered on the model outside that call, so training without
diagnostics runs exactly the code it ran before; with ``--diagnose-every N`` one extra forward
and backward (in eval mode: no dropout) is paid every N steps, on the batch just trained on.

The records go to ``gradient_flow.jsonl`` in the run folder, one line per probe::

    {"step": 200, "timesteps": 128, "layers": [[g^1_0, ..., g^1_{T-1}], [g^2_0, ...]],
     "nonfinite": 0}
"""

from __future__ import annotations

import contextlib
import math
import types
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import ENCODER_TYPES, STATELESS, forward_layers
from rnnkit.models.state_probe import perturbed_layers
from rnnkit.nn.layers import StackedRecurrent
from rnnkit.nn.minimal import MinimalRecurrent
from rnnkit.train.metrics import MetricsLog, read_metrics

STATEFUL_TYPES = (StackedRecurrent, MinimalRecurrent)
FLOW_FILE = "gradient_flow.jsonl"
SUMMARY_FILE = "diagnostics.json"


def encoders_of(model: nn.Module) -> list[nn.Module]:
    """The outermost rnnkit encoders inside ``model`` (the model itself may be one)."""
    found: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        if isinstance(module, ENCODER_TYPES):
            found.append(module)
            return
        for child in module.children():
            visit(child)

    visit(model)
    return found


@contextlib.contextmanager
def exposed_layers(model: nn.Module) -> Iterator[list[Tensor]]:
    """Within the block, running ``model`` appends to the yielded list one tensor per layer of
    each of its encoders whose gradient is dL/dh^l (B, T, H): for a recurrent encoder the zero
    perturbation of its state (:mod:`rnnkit.models.state_probe`), for a stateless one the
    layer's output (``models.encoders.forward_layers``). On exit the encoders are as they were."""
    encoders = encoders_of(model)
    if not encoders:
        raise RnnkitError(f"{type(model).__name__} has no rnnkit encoder to diagnose")
    taps: list[Tensor] = []

    def tapped(self, x, state=None, *, lengths=None):
        if isinstance(self, STATEFUL_TYPES):
            output, state, eps = perturbed_layers(self, x, state, lengths=lengths)
            taps.extend(eps)
            return output, state
        layers, state = forward_layers(self, x, state, lengths=lengths)
        taps.extend(layers)
        return layers[-1], state

    for encoder in encoders:
        encoder.forward = types.MethodType(tapped, encoder)
    try:
        yield taps
    finally:
        for encoder in encoders:
            del encoder.forward                  # back to the class's forward


def last_position(outputs: Tensor, targets: Tensor, lengths: Tensor | None):
    """(outputs, targets) cut to each sequence's last position when they are per-position
    (outputs (B, T, ...) with targets (B, T)); unchanged when there is one target per sequence."""
    if targets.dim() < 2 or outputs.dim() < 3 or outputs.shape[:2] != targets.shape[:2]:
        return outputs, targets
    B, T = targets.shape[:2]
    last = torch.full((B,), T - 1, device=outputs.device) if lengths is None else lengths - 1
    rows = torch.arange(B, device=outputs.device)
    return outputs[rows, last.to(outputs.device)][:, None], targets[rows, last.to(targets.device)][:, None]


def gradient_flow(model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor],
                  batch) -> tuple[np.ndarray, int]:
    """Norms g^l_t for one batch: (array (layers, T), count of non-finite gradient entries).

    Runs in eval mode from a zero state; parameter gradients are left untouched.
    """
    device = next(model.parameters()).device
    lengths = getattr(batch, "lengths", None)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), exposed_layers(model) as taps:
            inputs = batch.inputs.to(device)
            if lengths is None:
                outputs, _ = model(inputs, None)
            else:
                outputs, _ = model(inputs, None, lengths=lengths)
            out, tgt = last_position(outputs, batch.targets.to(device), lengths)
            loss = loss_fn(out, tgt)
            grads = torch.autograd.grad(loss, taps, allow_unused=True)
    finally:
        model.train(was_training)
    rows, bad = [], 0
    for tap, grad in _over_the_batch(taps, grads, inputs.shape[:2]):
        if grad is None:
            grad = torch.zeros_like(tap)
        bad += int((~torch.isfinite(grad)).sum())
        rows.append(torch.linalg.vector_norm(grad.double(), dim=-1).mean(0))   # (T,)
    return torch.stack(rows).cpu().numpy(), bad


def _over_the_batch(taps: list[Tensor], grads, batch_shape) -> list[tuple]:
    """The (tap, gradient) pairs of encoders that run over the batch's sequences, (B, T, H)
    for inputs (B, T, ...): an inner encoder over other sequences (a tagger's character encoder,
    (words, characters, H)) has other timesteps and is left out."""
    kept = [(t, g) for t, g in zip(taps, grads) if tuple(t.shape[:2]) == tuple(batch_shape)]
    if not kept:
        raise RnnkitError("no encoder of the model runs over the batch's timesteps")
    return kept


def training_probe(model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor],
                   run_dir: str | Path, every: int | None, *,
                   resume: bool = False) -> GradientProbe | None:
    """The ``probe`` for ``Trainer.fit`` of any job given ``--diagnose-every every``: None when
    ``every`` is None (no probe, no cost). A new run starts a fresh ``gradient_flow.jsonl``; a
    resumed one appends. Draw the figures after training with
    ``diagnostics_plot.finish_probe``."""
    if every is None:
        return None
    if not resume:
        (Path(run_dir) / FLOW_FILE).unlink(missing_ok=True)
    return GradientProbe(model, loss_fn, run_dir, every)


class GradientProbe:
    """``Trainer.fit(probe=...)``: every ``every`` steps, record the gradient flow of the batch
    just trained on into ``run_dir/gradient_flow.jsonl``."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor],
                 run_dir: str | Path, every: int) -> None:
        if every < 1:
            raise RnnkitError(f"--diagnose-every must be a positive integer, got {every}")
        self.model, self.loss_fn, self.every = model, loss_fn, every
        self.log = MetricsLog(Path(run_dir) / FLOW_FILE)

    def __call__(self, step: int, batch) -> None:
        if step % self.every == 0:
            record_flow(self.log, step, *gradient_flow(self.model, self.loss_fn, batch))


def record_flow(log: MetricsLog, step: int, norms: np.ndarray, nonfinite: int) -> None:
    log.write({"step": step, "timesteps": int(norms.shape[1]), "layers": norms.tolist(),
               "nonfinite": nonfinite})


def read_flow(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``gradient_flow.jsonl`` -> (steps (S,), norms (S, layers, T)); NaN where not finite."""
    records = [r for r in read_metrics(path) if "layers" in r]
    if not records:
        raise RnnkitError(f"'{path}' holds no gradient-flow records")
    shape = np.asarray(records[-1]["layers"], dtype=float).shape
    records = [r for r in records if np.asarray(r["layers"], dtype=float).shape == shape]
    norms = np.array([[[math.nan if v is None else v for v in row] for row in r["layers"]]
                      for r in records], dtype=float)
    return np.array([r["step"] for r in records]), norms


def vanishing_factor(norms: np.ndarray) -> float:
    """g_0 / g_{T-1} of one layer's norms (T,): < 1 means the gradient fades going back."""
    last = norms[-1]
    return float(norms[0] / last) if last > 0 and math.isfinite(last) else math.nan


def summarize(metrics: list[dict], norms: np.ndarray | None, *, cell: str) -> dict:
    """The run's summary figures: vanishing factor per layer (of the last probe), share of steps
    where clipping fired, largest pre-clip gradient norm, NaN/Inf steps and gradient entries."""
    train = [r for r in metrics if r.get("kind") == "train"]
    steps = sum(r.get("window_steps", 1) for r in train)
    clipped = sum(r.get("clipped_steps", int(bool(r.get("clipped")))) for r in train)
    norms_seen = [r.get("grad_norm_max", r.get("grad_norm")) for r in train]
    finite = [v for v in norms_seen if v is not None and math.isfinite(v)]
    summary = {
        "cell": cell,
        "recurrent_state": cell not in STATELESS,
        "steps": steps,
        "clip_share": clipped / steps if steps else math.nan,
        "max_grad_norm": max(finite) if finite else math.nan,
        "bad_steps": max((r.get("bad_steps", 0) for r in train), default=0),
    }
    if norms is not None:
        summary["vanishing_factor"] = [vanishing_factor(layer) for layer in norms]
        summary["timesteps"] = int(norms.shape[-1])
    return summary


def stateless_note(cell: str) -> str:
    """What ``--diagnose-every`` measures for an encoder without recurrent state."""
    return (f"{cell} has no recurrent state, so there is no gradient through time to follow; "
            "--diagnose-every measures instead the gradient of the last position's loss with "
            "respect to each layer's output at every position, which flows through "
            + {"mlp": "the input window only (zero beyond it)",
               "cnn": "the convolutions (zero beyond the receptive field)",
               "transformer": "attention (one hop from any position)"}.get(cell, "the layers"))
