"""Training: the model-agnostic loop (BPTT / truncated BPTT), schedule, metrics, checkpoints."""

from rnnkit.train.checkpoint import (
    clear_checkpoints,
    load_checkpoint_meta,
    load_model_weights,
    load_resume_point,
    load_trainer_state,
    params_finite,
    save_checkpoint,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import (
    Trainer,
    bpc_postfix,
    clip_gradients,
    detach_state,
    evaluate_loss,
    loss_postfix,
    make_optimizer,
    map_state,
)
from rnnkit.train.metrics import MetricsLog, plot_learning_curve, read_metrics
from rnnkit.train.rng import rng_state, seed_everything, set_rng_state
from rnnkit.train.run_lock import RunLock
from rnnkit.train.schedule import warmup_cosine, warmup_cosine_factor

__all__ = [
    "MetricsLog",
    "RunLock",
    "TrainConfig",
    "Trainer",
    "bpc_postfix",
    "clear_checkpoints",
    "clip_gradients",
    "detach_state",
    "evaluate_loss",
    "load_checkpoint_meta",
    "load_model_weights",
    "load_resume_point",
    "load_trainer_state",
    "loss_postfix",
    "make_optimizer",
    "map_state",
    "params_finite",
    "plot_learning_curve",
    "read_metrics",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "warmup_cosine",
    "warmup_cosine_factor",
]
