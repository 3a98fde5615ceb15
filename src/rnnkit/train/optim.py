"""The optimizer a Trainer builds, and global gradient-norm clipping."""

from __future__ import annotations


import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.train.config import TrainConfig


def make_optimizer(model: nn.Module, config: TrainConfig,
                   layers: list[list[nn.Parameter]] | None = None) -> torch.optim.Optimizer:
    """AdamW (or plain SGD, ``config.optimizer``) with weight decay on weights with
    ``ndim >= 2`` only.

    Matrices (input/recurrent projections, embeddings, output layer) are decayed; biases and
    norm gains (``ndim < 2``) are not, since shrinking them towards 0 only shifts activations
    (the nanoGPT/minGPT rule). AdamW's decay is decoupled; SGD's is an L2 term.

    When ``config.by_layer``, ``layers`` (the model's parameters by depth, input side first:
    ``model.layer_groups()``) each get their own groups, marked with their ``depth`` below the
    top (0 for the head), and discriminative rates (ULMFiT, Howard & Ruder 2018, eq. 2)::

        lr_depth = lr / layer_lr_decay ** depth

    :func:`rnnkit.train.schedule.warmup_cosine` reads ``depth`` for gradual unfreezing.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if config.by_layer:
        if layers is None:
            raise RnnkitError("--layer-lr-decay and --unfreeze-every need a model that lists "
                              "its layers (a classifier or a tagger)")
        return _build(config, [g for depth, layer in enumerate(reversed(layers)) for g in
                               _decay_groups([p for p in layer if p.requires_grad], config,
                                             depth=depth,
                                             lr=config.lr / config.layer_lr_decay ** depth)])
    return _build(config, _decay_groups(params, config))


def _decay_groups(params: list[nn.Parameter], config: TrainConfig, **extra) -> list[dict]:
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay,
         **extra},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0, **extra},
    ]
    return [g for g in groups if g["params"]]


def _build(config: TrainConfig, groups: list[dict]) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr)
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


def clip_gradients(params: list[Tensor], clip_norm: float | None) -> tuple[float, bool]:
    """Global L2 norm of the gradients before clipping, and whether clipping fired.

    ``||g|| = sqrt(sum_p ||g_p||^2)``; when ``clip_norm`` is set and ``||g|| > clip_norm`` every
    gradient is scaled by ``clip_norm / ||g||`` (Pascanu et al. 2013, "On the difficulty of
    training recurrent neural networks", sec. 3.2).
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0, False
    if clip_norm is None:
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        return float(norm), False
    norm = float(torch.nn.utils.clip_grad_norm_(params, clip_norm))
    return norm, norm > clip_norm
