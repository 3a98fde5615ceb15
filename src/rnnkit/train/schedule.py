"""Learning-rate schedule: linear warm-up, then cosine decay to a floor.

Warm-up keeps the first AdamW steps small while the second-moment estimates are still noisy
(Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond"); cosine decay
(Loshchilov & Hutter 2017, SGDR, without restarts) anneals to ``min_lr_ratio * peak``.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine_factor(
    step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float
) -> float:
    """Multiplier of the peak learning rate used for update number ``step`` (0-based).

    With ``W = min(warmup_steps, total_steps)`` and ``S = total_steps``::

        s < W:   f(s) = (s + 1) / W                                    linear, 1/W .. 1
        s >= W:  f(s) = r + (1 - r) * (1 + cos(pi * (s - W) / (S - 1 - W))) / 2   1 .. r

    where ``r = min_lr_ratio``. The warm-up starts at ``1/W`` rather than 0 so that no update
    is wasted with a zero learning rate; the last update ``s = S - 1`` uses the floor ``r``, and
    so does any step past it.

    >>> [round(warmup_cosine_factor(s, 2, 6, 0.1), 3) for s in range(7)]
    [0.5, 1.0, 1.0, 0.775, 0.325, 0.1, 0.1]
    """
    warmup = min(warmup_steps, total_steps)
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - 1 - warmup))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class _WarmupCosine:
    """Picklable callable for LambdaLR (so the scheduler's state_dict keeps its settings)."""

    def __init__(self, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> None:
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.min_lr_ratio = min_lr_ratio

    def __call__(self, step: int) -> float:
        return warmup_cosine_factor(step, self.warmup_steps, self.total_steps, self.min_lr_ratio)


class _Unfrozen:
    """The warm-up/cosine factor for a group ``depth`` layers below the top, 0 while it is
    still frozen: gradual unfreezing (ULMFiT, Howard & Ruder 2018, sec. 3.3) thaws one more
    group every ``every`` steps, the top one (depth 0) from the start."""

    def __init__(self, factor: _WarmupCosine, depth: int, every: int) -> None:
        self.factor, self.depth, self.every = factor, depth, every

    def __call__(self, step: int) -> float:
        frozen = self.every and step // self.every < self.depth
        return 0.0 if frozen else self.factor(step)


def warmup_cosine(
    optimizer: Optimizer,
    warmup_steps: int,
    total_steps: int,
    min_lr_ratio: float,
    *,
    start_step: int = 0,
    unfreeze_every: int = 0,
) -> LambdaLR:
    """LambdaLR setting each group's lr to ``initial_lr * warmup_cosine_factor(step, ...)``,
    and to 0 while a group marked with a ``depth`` (:func:`rnnkit.train.optim.make_optimizer`)
    is frozen by ``unfreeze_every`` (:class:`_Unfrozen`).

    Call ``.step()`` once per optimizer update. ``start_step > 0`` builds the scheduler of a
    resumed run directly at that step (the optimizer groups must already hold ``initial_lr``,
    as they do once any scheduler has been attached): the schedule is a pure function of the
    step, so nothing else needs restoring.
    """
    factor = _WarmupCosine(warmup_steps, total_steps, min_lr_ratio)
    if not any("depth" in g for g in optimizer.param_groups):
        return LambdaLR(optimizer, factor, last_epoch=start_step - 1)
    factors = [_Unfrozen(factor, g.get("depth", 0), unfreeze_every)
               for g in optimizer.param_groups]
    return LambdaLR(optimizer, factors, last_epoch=start_step - 1)


def frozen(group: dict) -> bool:
    """Whether an optimizer group is frozen at this step (gradual unfreezing)."""
    return "depth" in group and group["lr"] == 0


def inverse_sigmoid(step: int, k: float) -> float:
    """Scheduled sampling's decay (Bengio et al. 2015, sec. 2.4): the chance of feeding the true
    symbol at update ``step`` is ``k / (k + exp(step / k))``."""
    return k / (k + math.exp(min(step / k, 700.0)))
