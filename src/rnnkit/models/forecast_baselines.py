"""The statistical methods a forecaster is compared with, as quantile forecasts.

* ``naive``: the last value; ``snaive``: the value one season before (Hyndman &
  Athanasopoulos, "Forecasting: principles and practice", 5.2). Their intervals are Gaussian
  with the in-sample residual spread, widened with the horizon (sqrt(h) and sqrt(k + 1), k the
  whole seasons ahead, FPP 5.5). Plain NumPy.
* ``ets`` (AutoETS), ``theta`` (the standard Theta method of Assimakopoulos & Nikolopoulos
  2000, the M3 winner, with its seasonal test) and ``arima`` (AutoARIMA): statsforecast, an
  optional extra (``pip install 'rnnkit[forecast]'``); a missing package is a one-line error.

Each gives (H, Q) quantiles at the forecaster's levels from a history and a seasonal period.
A history shorter than statsforecast can fit (``MIN_POINTS``: ETS fits no model to 6 points or
fewer, Theta none to 3 or fewer) gets the naive forecast instead.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from rnnkit.errors import RnnkitError

BASELINES = ("naive", "snaive", "ets", "theta", "arima")
STATSFORECAST = "pip install statsforecast==2.1.1 (or 'rnnkit[forecast]')"
MIN_POINTS = {"ets": 7, "theta": 4, "arima": 1}   # the shortest history each method fits


def _gaussian(point: np.ndarray, sd: np.ndarray, levels) -> np.ndarray:
    z = np.array([NormalDist().inv_cdf(t) for t in levels])
    return point[:, None] + sd[:, None] * z[None, :]                         # (H, Q)


def naive(history: np.ndarray, horizon: int, period: int, levels) -> np.ndarray:
    e = np.diff(history)
    sigma = float(np.sqrt(np.mean(e ** 2))) if e.size else 0.0
    h = np.arange(1, horizon + 1)
    return _gaussian(np.full(horizon, history[-1]), sigma * np.sqrt(h), levels)


def snaive(history: np.ndarray, horizon: int, period: int, levels) -> np.ndarray:
    m = period
    if m <= 1 or len(history) <= m:
        return naive(history, horizon, period, levels)
    h = np.arange(horizon)
    point = history[len(history) - m + h % m]
    e = history[m:] - history[:-m]
    sigma = float(np.sqrt(np.mean(e ** 2)))
    return _gaussian(point, sigma * np.sqrt(h // m + 1), levels)


def _statsforecast(name: str):
    try:
        from statsforecast import models
    except ImportError:
        raise RnnkitError(f"the {name} baseline needs statsforecast; install it with: "
                          f"{STATSFORECAST}") from None
    return {"ets": models.AutoETS, "theta": models.Theta, "arima": models.AutoARIMA}[name]


def statistical(name: str, history: np.ndarray, horizon: int, period: int,
                levels) -> np.ndarray:
    """statsforecast's ``name`` model fitted to one series; its central forecast and
    prediction intervals as quantiles (level 2|tau - 0.5| intervals, the median the mean);
    the naive forecast when ``history`` is too short for the method."""
    if len(history) < MIN_POINTS[name]:
        return naive(history, horizon, period, levels)
    model = _statsforecast(name)(season_length=period)
    widths = sorted({round(200 * abs(t - 0.5)) for t in levels} - {0})
    out = model.forecast(y=history.astype(np.float64), h=horizon, level=widths)
    cols = []
    for t in levels:
        w = round(200 * abs(t - 0.5))
        cols.append(out["mean"] if w == 0 else out[f"{'lo' if t < 0.5 else 'hi'}-{w}"])
    return np.stack(cols, -1)


def baseline_quantiles(name: str, history: np.ndarray, horizon: int, period: int,
                       levels) -> np.ndarray:
    """(H, Q) quantiles of baseline ``name`` (one of BASELINES) after ``history``."""
    if name == "naive":
        return naive(history, horizon, period, levels)
    if name == "snaive":
        return snaive(history, horizon, period, levels)
    if name in BASELINES:
        return statistical(name, history, horizon, period, levels)
    raise RnnkitError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
