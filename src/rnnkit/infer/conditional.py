"""Sampling from a conditional generator: one condition in, a sequence out, streamed.

Each of the N rows starts from its condition's state and the boundary symbol; each step draws
the next symbol with :func:`~rnnkit.infer.sampling.sample_next` (temperature, top-k, top-p, a
seeded generator) and feeds it back with the carried state (O(1) per step). A row ends when it
draws the boundary symbol; a row still going after ``max_length`` symbols is truncated.

>>> model, codec = rnnkit.load("runs/names")                          # doctest: +SKIP
>>> sample_conditional(model, codec, ["tr_TR"] * 3, seed=0)[0].text  # doctest: +SKIP
'Elif'
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from rnnkit.data.symbols import BOUNDARY_ID
from rnnkit.errors import RnnkitError
from rnnkit.infer.sampling import SamplingConfig, sample_next
from rnnkit.infer.stopping import Generated, GenerationLimits, StopWatcher


def condition_ids(conditions: tuple[str, ...], asked: list[str]) -> torch.Tensor:
    """Ids of the asked conditions; an unknown one is one line listing the known ones."""
    index = {c: i for i, c in enumerate(conditions)}
    for name in asked:
        if name not in index:
            raise RnnkitError(f"unknown condition {name!r}; this model knows: "
                              f"{', '.join(conditions)}")
    return torch.tensor([index[a] for a in asked])


@torch.inference_mode()
def sample_ids(model: nn.Module, conditions: torch.Tensor, sampling: SamplingConfig,
               max_length: int, *, on_step: Callable[[list[int]], None] | None = None
               ) -> tuple[list[list[int]], list[bool]]:
    """Draw one sequence per condition id (N,): (ids without the boundary, truncated flags).

    ``on_step(ids)`` receives the N symbols drawn at each step (for streaming); when it
    returns True, generation ends there (a stop string was met).
    """
    generator = None
    if sampling.seed is not None:
        generator = torch.Generator().manual_seed(sampling.seed)
    N = conditions.shape[0]
    token = torch.full((N, 1), BOUNDARY_ID)                               # (N, 1)
    out: list[list[int]] = [[] for _ in range(N)]
    done = [False] * N
    state = None
    was = model.training
    model.eval()
    try:
        for _ in range(max_length):
            logits, state = model.run(token, conditions, state)           # (N, 1, V)
            nxt = sample_next(logits[:, -1], sampling, generator)         # (N,)
            for i, t in enumerate(nxt.tolist()):
                if not done[i]:
                    if t == BOUNDARY_ID:
                        done[i] = True
                    else:
                        out[i].append(t)
            if on_step is not None and on_step(nxt.tolist()):
                break
            if all(done):
                break
            token = nxt[:, None]
    finally:
        model.train(was)
    return out, [not d for d in done]


def sample_conditional(model: nn.Module, codec, asked: list[str], *,
                       sampling: SamplingConfig = SamplingConfig(),
                       limits: GenerationLimits = GenerationLimits(),
                       seed: int | None = None) -> list[Generated]:
    """One output per asked condition name (a batch; no streaming)."""
    symbols, conditions = codec
    if seed is not None:
        sampling = SamplingConfig(sampling.temperature, sampling.top_k, sampling.top_p, seed)
    ids, truncated = sample_ids(model, condition_ids(conditions, asked), sampling,
                                limits.max_length)
    results = []
    for row, cut in zip(ids, truncated):
        watcher = StopWatcher(limits.stop)
        watcher.feed(symbols.join(symbols.decode(row)))
        results.append(Generated(watcher.text, cut and watcher.stopped is None, watcher.stopped))
    return results


def stream_conditional(model: nn.Module, codec, condition: str, emit: Callable[[str], None], *,
                       sampling: SamplingConfig = SamplingConfig(),
                       limits: GenerationLimits = GenerationLimits()) -> Generated:
    """Generate for one condition, passing each shown piece to ``emit`` as soon as it is drawn."""
    symbols, conditions = codec
    ids = condition_ids(conditions, [condition])
    watcher = StopWatcher(limits.stop)
    finished = [False]

    def on_step(step: list[int]) -> bool:
        t = step[0]
        if t == BOUNDARY_ID:
            finished[0] = True
            return True
        piece = watcher.feed(symbols.join(symbols.decode([t])))
        if piece:
            emit(piece)
        return watcher.stopped is not None

    _, truncated = sample_ids(model, ids, sampling, limits.max_length, on_step=on_step)
    truncated[0] = truncated[0] and not finished[0]
    rest = watcher.finish()
    if rest:
        emit(rest)
    return Generated(watcher.text, truncated[0] and watcher.stopped is None, watcher.stopped)
