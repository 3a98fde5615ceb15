"""The :class:`~rnnkit.train.config.TrainConfig` of ``rnnkit train``, built the same way for
every task from the flags and the task's defaults."""

from __future__ import annotations

import argparse

from rnnkit.train.config import TrainConfig


def train_config(args: argparse.Namespace, s: dict, *, steps: int, eval_every: int,
                 **extra) -> TrainConfig:
    """``s`` holds the task's settings (``lr``, ``weight_decay``, ``warmup``, ``clip``, ``seed``:
    a flag where given, else the task's default); ``extra`` passes other fields through."""
    return TrainConfig(
        steps=steps, lr=s["lr"], weight_decay=s["weight_decay"], warmup_steps=s["warmup"],
        clip_norm=None if args.no_clip else s["clip"], eval_every=eval_every, seed=s["seed"],
        min_lr_ratio=TrainConfig.min_lr_ratio if args.min_lr_ratio is None else args.min_lr_ratio,
        precision=args.precision or "fp32", optimizer=args.optimizer or "adamw", **extra)
