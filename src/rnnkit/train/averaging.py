"""Non-monotonically triggered averaged SGD (NT-ASGD).

Merity, Keskar & Socher 2018, "Regularizing and Optimizing LSTM Language Models" (arXiv
1708.02182), sec. 3 and Algorithm 1; averaging the iterates of SGD: Polyak & Juditsky 1992.
SGD runs until the validation loss has not improved on the best loss from more than ``n``
evaluations ago (the non-monotone trigger, :func:`nonmonotone_trigger`; the paper's n = 5).
From then on the weights are averaged over the iterates after every update::

    w_avg(k) = (1 / k) * sum_{i=1..k} w(T + i)        T: the update at which the trigger fired

kept as a running mean, ``w_avg += (w - w_avg) / k`` (:class:`WeightAverage`): what
``torch.optim.ASGD(t0=T, lambd=0)`` keeps in its ``ax``. The optimizer keeps taking SGD steps on
the raw weights; evaluation and saved weights use the average (``Trainer.averaged``).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import Tensor


def nonmonotone_trigger(history: list[float], loss: float, n: int) -> bool:
    """Whether the validation ``loss`` just measured starts averaging, given the ``history``
    of losses measured before it: more than ``n`` of them exist and ``loss`` is worse than the
    best of all but the last ``n`` (Algorithm 1: ``t > n and v > min(logs[:t - n])``).

    >>> nonmonotone_trigger([5.0, 4.0, 3.0], 3.5, 2)
    True
    >>> nonmonotone_trigger([5.0, 4.0, 3.0], 3.5, 3)
    False
    """
    return len(history) > n and loss > min(history[:-n])


class WeightAverage:
    """The running mean of ``params`` over the calls of :meth:`add` (one per update)."""

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.count = 0                                   # iterates averaged so far
        self.mean = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def add(self) -> None:
        """Take the parameters' current values into the mean."""
        self.count += 1
        for mean, p in zip(self.mean, self.params):
            mean.add_(p.detach() - mean, alpha=1.0 / self.count)

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The parameters hold the mean inside the block and their own values again after."""
        if self.count == 0:
            yield
            return
        raw = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, mean in zip(self.params, self.mean):
                p.copy_(mean)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, value in zip(self.params, raw):
                    p.copy_(value)

    def state_dict(self) -> dict:
        return {"count": self.count, "mean": [m.detach().cpu() for m in self.mean]}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])
        with torch.no_grad():
            for mean, saved in zip(self.mean, state["mean"]):
                mean.copy_(saved)


class NTASGD:
    """The trigger's history and, once it has fired, the average (``n``: the non-monotone
    interval)."""

    def __init__(self, params: list[Tensor], n: int) -> None:
        self.params, self.n = params, n
        self.history: list[float] = []                   # validation losses, oldest first
        self.average: WeightAverage | None = None        # None until the trigger fires
        self.started_at: int | None = None               # the update count when it fired

    def observe(self, loss: float, step: int) -> bool:
        """Record a validation loss measured after ``step`` updates; True when it fires the
        trigger now (averaging then starts with the next update)."""
        fire = self.average is None and nonmonotone_trigger(self.history, loss, self.n)
        self.history.append(loss)
        if fire:
            self.average, self.started_at = WeightAverage(self.params), step
        return fire

    def updated(self) -> None:
        """After each optimizer update: take it into the average once averaging has started."""
        if self.average is not None:
            self.average.add()

    def averaged(self):
        """A context in which the parameters hold the average (nothing changes before the
        trigger, or before the first update after it)."""
        return contextlib.nullcontext() if self.average is None else self.average.swapped_in()

    def state_dict(self) -> dict:
        """The history, the average and the raw weights (the checkpoint's weights are the
        average once it exists, so a resume takes the raw ones from here)."""
        state: dict = {"history": list(self.history), "started_at": self.started_at}
        if self.average is not None:
            state["average"] = self.average.state_dict()
            state["raw"] = [p.detach().cpu().clone() for p in self.params]
        return state

    def load_state_dict(self, state: dict) -> None:
        self.history = [float(v) for v in state["history"]]
        self.started_at = state["started_at"]
        self.average = None
        if "average" in state:
            self.average = WeightAverage(self.params)
            self.average.load_state_dict(state["average"])
            with torch.no_grad():
                for p, raw in zip(self.params, state["raw"]):
                    p.copy_(raw)
