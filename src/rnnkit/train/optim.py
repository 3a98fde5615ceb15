"""The optimizer a Trainer builds, and global gradient-norm clipping."""

from __future__ import annotations


import torch
from torch import Tensor, nn

from rnnkit.train.config import TrainConfig


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (or plain SGD, ``config.optimizer``) with weight decay on weights with
    ``ndim >= 2`` only.

    Matrices (input/recurrent projections, embeddings, output layer) are decayed; biases and
    norm gains (``ndim < 2``) are not, since shrinking them towards 0 only shifts activations
    (the nanoGPT/minGPT rule). AdamW's decay is decoupled; SGD's is an L2 term.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
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
