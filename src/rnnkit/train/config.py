"""Training hyper-parameters: one frozen, validated dataclass."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from rnnkit.errors import RnnkitError


# Training precisions. "bf16" is mixed precision (Micikevicius et al. 2018, "Mixed Precision
# Training"; bfloat16 needs no loss scaling): the forward runs under ``torch.autocast``, so
# products take bfloat16 inputs with float32 accumulation, while the parameters, their gradients,
# the optimizer state and the loss stay float32. Evaluation always runs in float32.
PRECISIONS = ("fp32", "bf16")
# Optimizers. "adamw": Adam with decoupled weight decay (Loshchilov & Hutter 2019), the default.
# "sgd": plain stochastic gradient descent, the optimizer of the LSTM language-model recipes
# (Zaremba et al. 2014: learning rate 1, gradient norm clipped at 5; Merity et al. 2018 found it
# beats Adam on word-level LMs); its weight decay is an L2 term, so it usually wants 0.
OPTIMIZERS = ("adamw", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """How to optimise; knows nothing about the model or the data."""

    steps: int = 2000  # total optimizer updates (skipped non-finite steps do not count)
    lr: float = 2e-3  # peak learning rate, reached at the end of warm-up
    weight_decay: float = 0.01  # AdamW decoupled decay, on weights with ndim >= 2 only
    betas: tuple[float, float] = (0.9, 0.99)  # AdamW moment decay rates
    warmup_steps: int = 100  # linear warm-up length; clamped to `steps` by the schedule
    min_lr_ratio: float = 0.1  # cosine floor, as a fraction of `lr`
    clip_norm: float | None = 1.0  # max global gradient L2 norm; None disables clipping
    max_bad_steps: int = 5  # consecutive non-finite steps before training stops with an error
    log_every: int = 10  # write a metrics line (and refresh the progress bar) every N steps
    eval_every: int = 200  # evaluate every N steps (and always at the end); 0: only at the end
    seed: int = 0  # seeds torch, numpy and random; CPU runs are then bit-reproducible
    precision: str = "fp32"  # "fp32", or "bf16": forward under bfloat16 autocast (PRECISIONS)
    optimizer: str = "adamw"  # "adamw", or "sgd": plain SGD (OPTIMIZERS)
    # Fine-tuning a pretrained model (ULMFiT, Howard & Ruder 2018, sec. 3.2), over the model's
    # layer groups (embedding, each recurrent layer, head; rnnkit.train.optim):
    layer_lr_decay: float = 1.0  # discriminative rates: each group below the top gets the rate
    #                              of the group above / this (ULMFiT: 2.6); 1: one rate for all
    unfreeze_every: int = 0  # gradual unfreezing: the top group trains from step 0 and one more
    #                          group every N steps (ULMFiT: an epoch); 0: all from the start
    asgd_nonmono: int = 0  # NT-ASGD (Merity et al. 2018, rnnkit.train.averaging): SGD until
    #                        the validation loss is worse than the best from more than N
    #                        evaluations ago, then average the weights (paper: 5); 0: off

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise RnnkitError(message)

        need(
            _is_int(self.steps) and self.steps > 0,
            f"steps must be a positive integer, got {self.steps}",
        )
        need(_finite(self.lr) and self.lr > 0, f"learning rate must be > 0, got {self.lr}")
        need(
            _finite(self.weight_decay) and self.weight_decay >= 0,
            f"weight decay must be >= 0, got {self.weight_decay}",
        )
        need(
            len(self.betas) == 2 and all(_finite(b) and 0 <= b < 1 for b in self.betas),
            f"betas must be two numbers in [0, 1), got {self.betas}",
        )
        need(
            _is_int(self.warmup_steps) and self.warmup_steps >= 0,
            f"warm-up steps must be >= 0, got {self.warmup_steps}",
        )
        need(
            _finite(self.min_lr_ratio) and 0 <= self.min_lr_ratio <= 1,
            f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}",
        )
        need(
            self.clip_norm is None or (_finite(self.clip_norm) and self.clip_norm > 0),
            f"gradient clip norm must be > 0 (or None to disable), got {self.clip_norm}",
        )
        need(
            _is_int(self.max_bad_steps) and self.max_bad_steps >= 1,
            f"max_bad_steps must be >= 1, got {self.max_bad_steps}",
        )
        need(
            _is_int(self.log_every) and self.log_every >= 1,
            f"log_every must be >= 1, got {self.log_every}",
        )
        need(
            _is_int(self.eval_every) and self.eval_every >= 0,
            f"eval_every must be >= 0, got {self.eval_every}",
        )
        need(_is_int(self.seed), f"seed must be an integer, got {self.seed}")
        need(
            _finite(self.layer_lr_decay) and self.layer_lr_decay >= 1,
            f"layer lr decay must be >= 1, got {self.layer_lr_decay}",
        )
        need(
            _is_int(self.unfreeze_every) and self.unfreeze_every >= 0,
            f"unfreeze_every must be an integer >= 0, got {self.unfreeze_every}",
        )
        need(
            _is_int(self.asgd_nonmono) and self.asgd_nonmono >= 0,
            f"the NT-ASGD interval must be an integer >= 0, got {self.asgd_nonmono}",
        )
        need(
            not self.asgd_nonmono or self.optimizer == "sgd",
            "NT-ASGD averages the iterates of SGD; give --optimizer sgd with --asgd",
        )
        need(
            not self.asgd_nonmono or self.eval_every > 0,
            "NT-ASGD's trigger reads the validation loss; give --eval-every N > 0 with --asgd",
        )
        need(
            self.optimizer in OPTIMIZERS,
            f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}",
        )
        need(
            self.precision in PRECISIONS,
            f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}",
        )

    @property
    def by_layer(self) -> bool:
        """Whether the optimizer needs the model's layer groups (discriminative rates or
        gradual unfreezing)."""
        return self.layer_lr_decay != 1 or self.unfreeze_every > 0

    def for_epochs(self, epochs: float, batches_per_epoch: int) -> "TrainConfig":
        """This config with ``steps`` set to cover ``epochs`` passes (at least one step)."""
        return dataclasses.replace(self, steps=max(1, math.ceil(epochs * batches_per_epoch)))


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
