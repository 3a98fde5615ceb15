"""Forecasting windows cut from many series: scaling, one window, and a resumable sampler.

A window is the ``context`` L points before a forecast start t and the ``horizon`` H points
from t, as one (L + H, C) array of channels::

    0  value / s          the series divided by its scale s (0 where unobserved)
    1  observed           1 for a real point, 0 for left padding and for unknown future
    2  log s              the series' scale, for the network to see its size (DeepAR)
    3  series index       the series' row in the training ids (-1: unknown), for an id embedding
    4: covariates         known at every step, the future included

s is the mean absolute value of the observed context, or of its last ``scale_points`` points
(1 when that is 0), so a window's scale comes from its past alone and is known at prediction
time. A series with fewer than L points before t is left-padded with zeros marked unobserved
(``pad``), or refused.

:class:`WindowBatches` draws windows at random, N-BEATS-style (Oreshkin et al. 2020, 5.2): a
series uniformly, then a forecast start among its last ``recent`` horizons (or anywhere). A
pass is ``per_epoch`` batches and a pure function of the generator's state at its start, so
``state_dict`` (that state and the batches handed out) resumes a run on the very next batch.

>>> import numpy as np
>>> w = window(np.array([2., 4., 6., 8.]), None, 3, context=2, horizon=1, index=0)
>>> [round(v, 2) for v in w[:, 0].tolist()], w[:, 1].tolist()
([0.8, 1.2, 1.6], [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.data.batch import SequenceBatch

VALUE, OBSERVED, LOG_SCALE, INDEX = 0, 1, 2, 3
FIXED_CHANNELS = 4


def context_scale(context: np.ndarray, observed: np.ndarray | None = None) -> float:
    """Mean absolute value of the observed points of ``context`` (1.0 when there are none or
    they are all zero)."""
    values = context if observed is None else context[observed > 0]
    s = float(np.mean(np.abs(values))) if values.size else 0.0
    return s if s > 0 and np.isfinite(s) else 1.0


def window(y: np.ndarray, covariates: np.ndarray | None, start: int, *, context: int,
           horizon: int, index: int = -1, future: bool = True,
           scale_points: int = 0) -> np.ndarray:
    """The (L + H, C) window of series ``y`` whose forecast starts at ``start``, scaled by the
    mean absolute value of its last ``scale_points`` context points (0: the whole context).

    ``future=False`` leaves the H future values out (unknown: value 0, observed 0);
    ``covariates`` (T, K) must then still cover ``start + horizon`` steps.
    """
    k = 0 if covariates is None else covariates.shape[1]
    w = np.zeros((context + horizon, FIXED_CHANNELS + k), dtype=np.float32)
    first = max(0, start - context)
    past = y[first:start]
    pad = context - len(past)
    s = context_scale(past[-scale_points:] if scale_points else past)
    w[pad:context, VALUE] = past / s
    w[pad:context, OBSERVED] = 1.0
    if future:
        ahead = y[start:start + horizon]
        w[context:context + len(ahead), VALUE] = ahead / s
        w[context:context + len(ahead), OBSERVED] = 1.0
    w[:, LOG_SCALE] = np.log(s)
    w[:, INDEX] = index
    if k:
        w[pad:, FIXED_CHANNELS:] = covariates[first:start + horizon]
    return w


def unscale(values: np.ndarray | torch.Tensor, w: np.ndarray | torch.Tensor):
    """Values divided by a window's scale, back in the series' units (``* exp(log s)``)."""
    s = np.exp(w[..., 0, LOG_SCALE]) if isinstance(w, np.ndarray) else \
        torch.exp(w[..., 0, LOG_SCALE])
    return values * s[..., None] if values.ndim > s.ndim else values * s


def batch_of(windows: list[np.ndarray]) -> SequenceBatch:
    """Windows stacked as inputs (B, L+H, C) and targets (B, L+H, 3): scaled value, observed,
    scale (what the losses read)."""
    x = torch.from_numpy(np.stack(windows))                               # (B, L+H, C)
    targets = torch.stack([x[..., VALUE], x[..., OBSERVED], torch.exp(x[..., LOG_SCALE])], -1)
    return SequenceBatch(x, targets)


class WindowBatches:
    """Random training windows, ``per_epoch`` batches a pass; seeded and resumable."""

    def __init__(self, series: list[np.ndarray], covariates: list[np.ndarray] | None, *,
                 context: int, horizon: int, batch_size: int, per_epoch: int, seed: int = 0,
                 recent: int = 0, pad: bool = True, scale_points: int = 0) -> None:
        self.series, self.covariates = series, covariates
        self.scale_points = scale_points
        self.context, self.horizon, self.batch_size = context, horizon, batch_size
        self.per_epoch = per_epoch
        self.recent, self.pad = recent, pad
        self.rng = np.random.default_rng(seed)
        self.pass_start = self.rng.bit_generator.state  # generator state when the pass began
        self.position = 0                                # batches handed out in this pass
        self.skip = 0                                    # batches the next pass skips (resume)

    def __len__(self) -> int:
        return self.per_epoch

    def state_dict(self) -> dict:
        return {"pass_start": self.pass_start, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["pass_start"]
        self.skip = int(state["position"])

    def starts(self, n: int) -> tuple[int, int]:
        """The range [lo, hi] of forecast starts in a series of ``n`` points."""
        hi = n - self.horizon
        lo = 1 if self.pad else self.context
        if self.recent:
            lo = max(lo, hi - self.recent * self.horizon + 1)
        return lo, hi

    def draw(self) -> SequenceBatch:
        which = self.rng.integers(0, len(self.series), self.batch_size)
        u = self.rng.random(self.batch_size)
        windows = []
        for i, r in zip(which.tolist(), u.tolist()):
            lo, hi = self.starts(len(self.series[i]))
            start = lo + int(r * (hi - lo + 1))
            cov = None if self.covariates is None else self.covariates[i]
            windows.append(window(self.series[i], cov, start, context=self.context,
                                  horizon=self.horizon, index=i,
                                  scale_points=self.scale_points))
        return batch_of(windows)

    def __iter__(self):
        self.pass_start, skip, self.skip = self.rng.bit_generator.state, self.skip, 0
        if skip >= self.per_epoch:                       # saved at the end of a pass
            for _ in range(self.per_epoch):
                self.draw()
            self.pass_start, skip = self.rng.bit_generator.state, 0
        for _ in range(skip):
            self.draw()
        self.position = skip
        for _ in range(skip, self.per_epoch):
            self.position += 1
            yield self.draw()
