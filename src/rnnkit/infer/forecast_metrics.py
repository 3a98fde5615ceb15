"""Forecast accuracy: sMAPE, MAPE, MASE, a CRPS from quantiles, interval coverage.

Conventions of the competitions the figures are compared with:

* sMAPE (M3; Makridakis & Hibon 2000, as in N-BEATS): ``200 |y - f| / (|y| + |f|)`` averaged
  over every forecast point (a point where both are 0 counts 0).
* MAPE (Tourism; Athanasopoulos et al. 2011): ``100 |y - f| / |y|`` averaged over every point.
* MASE (Hyndman & Koehler 2006): ``mean |y - f|`` of a series over the in-sample mean absolute
  error of the seasonal naive forecast with the frequency's period m (1 yearly/other, 4
  quarterly, 12 monthly; m = 1 when the history is not longer than m), then averaged over
  series.
* CRPS: the mean weighted quantile loss over the nine deciles, ``sum 2 pinball_tau / sum |y|``
  averaged over tau = 0.1 .. 0.9 (a discretised CRPS, as GluonTS's mean_wQuantileLoss), so
  sample-path models, quantile heads and the statistical baselines are scored alike.
* Coverage: the share of test points inside the 80% (q0.1 .. q0.9) and 95% (q0.025 .. q0.975)
  intervals.

Averages over frequencies weigh every forecast point alike (series x horizon), as N-BEATS
computes its M3 and Tourism "Average" columns.

>>> import numpy as np
>>> round(smape(np.array([100.0]), np.array([110.0])), 4)
9.5238
"""

from __future__ import annotations

import numpy as np

DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
INTERVALS = {"coverage_80": (0.1, 0.9), "coverage_95": (0.025, 0.975)}


def smape(y: np.ndarray, f: np.ndarray) -> float:
    """Mean of ``200 |y - f| / (|y| + |f|)`` over all points (0 where both are 0)."""
    den = np.abs(y) + np.abs(f)
    return float(np.mean(np.where(den > 0, 200 * np.abs(y - f) / np.where(den > 0, den, 1), 0)))


def mape(y: np.ndarray, f: np.ndarray) -> float:
    """Mean of ``100 |y - f| / |y|`` over all points (points with y = 0 are skipped)."""
    keep = y != 0
    return float(np.mean(100 * np.abs(y[keep] - f[keep]) / np.abs(y[keep])))


def mase_scale(history: np.ndarray, period: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (NaN when it is 0)."""
    m = period if len(history) > period else 1
    d = float(np.mean(np.abs(history[m:] - history[:-m]))) if len(history) > m else np.nan
    return d if d > 0 else np.nan


def mase(y: np.ndarray, f: np.ndarray, history: np.ndarray, period: int) -> float:
    return float(np.mean(np.abs(y - f))) / mase_scale(history, period)


def quantile_at(levels: tuple[float, ...], q: np.ndarray, tau: float) -> np.ndarray:
    """The ``tau`` quantile out of ``q (..., Q)`` at ``levels`` (interpolated if needed)."""
    levels = np.asarray(levels)
    i = np.searchsorted(levels, tau)
    if i < len(levels) and abs(levels[i] - tau) < 1e-9:
        return q[..., i]
    return np.apply_along_axis(lambda row: np.interp(tau, levels, row), -1, q)


def weighted_quantile_loss(y: np.ndarray, q: np.ndarray, levels: tuple[float, ...]) -> float:
    """``sum_points 2 pinball(y, q_tau) / sum |y|``, averaged over the deciles."""
    total = 0.0
    for tau in DECILES:
        d = y - quantile_at(levels, q, tau)
        total += float(np.sum(2 * np.maximum(tau * d, (tau - 1) * d)))
    return total / len(DECILES) / float(np.sum(np.abs(y)))


def quantiles_of_samples(samples: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    """(..., S, H) sample paths -> (..., H, Q) quantiles at ``levels``."""
    return np.moveaxis(np.quantile(samples, levels, axis=-2), 0, -1)


def score(y: list[np.ndarray], q: list[np.ndarray], levels: tuple[float, ...],
          history: list[np.ndarray], period: int, *, mape_level: float = 0.5) -> dict:
    """Every figure of forecasts ``q`` (per series (H, Q) quantiles; the point forecast is the
    median) against the truths ``y`` (per series (H,)), with per-series MASE scales from
    ``history``. Returns the figures and ``points`` (how many forecast points were scored).

    ``mape_level`` scores MAPE on another quantile: MAPE rewards forecasts below the median
    (it is consistent for a lower functional than the median, Gneiting 2011, "Making and
    evaluating point forecasts"), so a level chosen on held-in data may serve it better."""
    yy, qq = np.concatenate(y), np.concatenate(q)
    median = quantile_at(levels, qq, 0.5)
    scales = [mase_scale(h, period) for h in history]
    per_series = [float(np.mean(np.abs(t - quantile_at(levels, f, 0.5)))) / s
                  for t, f, s in zip(y, q, scales)]
    figures = {"smape": smape(yy, median),
               "mape": mape(yy, quantile_at(levels, qq, mape_level)), "mape_level": mape_level,
               "mase": float(np.nanmean(per_series)),
               "crps": weighted_quantile_loss(yy, qq, levels), "points": int(yy.size),
               "series": len(y), "abs_sum": float(np.sum(np.abs(yy)))}
    for name, (lo, hi) in INTERVALS.items():
        inside = (yy >= quantile_at(levels, qq, lo)) & (yy <= quantile_at(levels, qq, hi))
        figures[name] = float(np.mean(inside))
    return figures


def pooled(parts: list[dict]) -> dict:
    """Figures of several sets (frequencies) together, every forecast point weighing alike
    (MASE: every series alike)."""
    points = sum(p["points"] for p in parts)
    series = sum(p["series"] for p in parts)
    out = {k: sum(p[k] * p["points"] for p in parts) / points
           for k in ("smape", "mape", "coverage_80", "coverage_95")}
    out["mase"] = sum(p["mase"] * p["series"] for p in parts) / series
    abs_sum = sum(p["abs_sum"] for p in parts)     # the CRPS's denominator, sum |y|
    out["crps"] = sum(p["crps"] * p["abs_sum"] for p in parts) / abs_sum
    return {**out, "points": points, "series": series, "abs_sum": abs_sum}
