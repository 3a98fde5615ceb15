"""Data-parallel training over the processes ``torchrun`` starts (gloo on CPU, NCCL on GPU).

    torchrun --nproc_per_node 2 -m rnnkit train ...     (or: rnnkit train ... --nproc 2)

Every process builds the same model from the same seed, reads its own shard of each batch
(its lanes of a truncated-BPTT stream, its rows of a padded batch: ``shard`` in
:mod:`rnnkit.data.stream` and :mod:`rnnkit.data.padded`), and DistributedDataParallel averages
the gradients, so W processes with B/W rows each take the steps one process takes with B rows.
Dropout draws differ per process (``rank_seed``); process 0 evaluates, logs and writes the
checkpoints, which hold every process's RNG state, and the decision to stop on a signal is taken
by all processes together so that none waits forever in a collective.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Process 0: the one that evaluates, logs and writes."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1


def from_environment() -> World:
    """The world torchrun describes in ``WORLD_SIZE``/``RANK`` (joined on first call), or a
    single process."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_available():
        raise RnnkitError("this PyTorch build has no torch.distributed; train in one process")
    if not dist.is_initialized():
        # torchrun keeps one store across restarts: a restarted group's keys get their own
        # prefix, or its processes would meet the dead attempt's addresses and wait forever.
        store, rank, size = next(dist.rendezvous("env://"))
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo",
                                store=dist.PrefixStore(f"rnnkit/attempt-{attempt}", store),
                                rank=rank, world_size=size)
    return World(dist.get_rank(), dist.get_world_size())


def rank_seed(seed: int, rank: int) -> int:
    """The seed of process ``rank``'s own draws (dropout): the run's seed for process 0."""
    return seed if rank == 0 else (seed + 1_000_003 * rank) % 2**32


def any_process(flag: bool, world: World) -> bool:
    """True on every process when ``flag`` is True on at least one."""
    if not world.parallel:
        return flag
    value = torch.tensor([1 if flag else 0])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather(obj, world: World) -> list:
    """``obj`` of every process, in rank order (on every process)."""
    if not world.parallel:
        return [obj]
    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def restarted() -> bool:
    """True in a worker that torchrun restarted after a failure (``--max-restarts``)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0


def barrier(world: World) -> None:
    if world.parallel:
        dist.barrier()


def leave(world: World) -> None:
    """Close this process's group at the end of its run (PyTorch asks for it): a process that
    exits with the group still open can abort on its communication threads while the others
    finish (seen as "terminate called without an active exception" and exit code -6)."""
    if world.parallel and dist.is_initialized():
        dist.destroy_process_group()
