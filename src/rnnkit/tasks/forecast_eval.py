"""Scoring a trained forecaster: the test figures, the statistical baselines beside them,
ensembles, split-conformal calibration and a fan chart.

The run folder of a forecast run adds::

    evaluation.json    test figures (sMAPE, MAPE, MASE, CRPS, 80%/95% coverage), baselines
    evaluation_ensemble.json   the same for ``rnnkit evaluate RUN --ensemble RUN2 ...``
    evaluation[_ensemble]_calibrated.json   with ``--calibrate``
    fan_chart.png      a few series: history, truth, median, 80% and 95% bands
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from rnnkit.data.datasets.forecasting import read_series_set
from rnnkit.data.windows import context_scale
from rnnkit.errors import RnnkitError
from rnnkit.infer.forecast_metrics import quantile_at, score
from rnnkit.models.forecast_baselines import BASELINES, baseline_quantiles
from rnnkit.tasks.flags import nonnegative_int, positive_int
from rnnkit.tasks.forecast_use import forecast
from rnnkit.train.run_folder import write_json

EVALUATION_FILE = "evaluation.json"
ENSEMBLE_FILE = "evaluation_ensemble.json"
FAN_CHART = "fan_chart.png"


def ensemble(members: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Members' (H, Q) quantiles combined level by level by their median (N-BEATS combines its
    members' point forecasts by the median, too)."""
    return [np.median(np.stack(qs), axis=0) for qs in zip(*members)]


def _members_forecast(pairs, histories, found, samples, seed, covariates=None) -> list:
    members = []
    for m, cd in pairs:
        index = {sid: i for i, sid in enumerate(cd["ids"])}
        members.append(forecast(m, histories, samples=samples, seed=seed, covariates=covariates,
                                indices=[index.get(sid, -1) for sid in found.ids]))
    return ensemble(members) if len(members) > 1 else members[0]


def calibration(pairs, found, levels, samples: int, seed: int) -> dict:
    """Split-conformal widening of each central interval (conformalized quantile regression,
    Romano et al. 2019): forecast the last horizon of every training history from the points
    before it, score how far each truth falls outside the (tau, 1 - tau) interval in units of
    the context's scale, and take the interval level's quantile of those scores as the
    correction. The last horizon was seen in training, so this corrects less than fresh data
    would. Returns ``{tau: correction}`` for the lower levels tau < 0.5, and the level whose
    quantile has the lowest MAPE there (the point forecast MAPE is scored on)."""
    h = found.horizon
    keep = [i for i, y in enumerate(found.train) if len(y) > h + 1]
    hist = [found.train[i][:-h] for i in keep]
    truth = np.stack([found.train[i][-h:] for i in keep])                      # (N, H)
    cov = [found.covariates[i] for i in keep] if found.covariates else None
    sub = type(found)(found.name, tuple(found.ids[i] for i in keep), tuple(hist), (), h,
                      found.frequency, found.split)
    q = np.stack(_members_forecast(pairs, hist, sub, samples, seed, cov))      # (N, H, Q)
    context = pairs[0][0].config.context
    s = np.array([context_scale(y[-context:]) for y in hist])[:, None]
    out = {}
    keep_y = truth != 0
    errors = [np.mean(np.abs(q[..., j] - truth)[keep_y] / np.abs(truth[keep_y]))
              for j in range(len(levels))]
    point = levels[int(np.argmin(errors))]
    for j, tau in enumerate(levels):
        if tau >= 0.5:
            break
        k = levels.index(round(1 - tau, 6)) if round(1 - tau, 6) in levels else None
        if k is None:
            continue
        score_ = np.maximum(q[..., j] - truth, truth - q[..., k]) / s              # (N, H)
        n = score_.size
        out[tau] = float(np.quantile(score_, min(1.0, (1 - 2 * tau) * (n + 1) / n)))
    return out, point


def widen(q: list[np.ndarray], histories: list, levels, corrections: dict,
          context: int) -> list[np.ndarray]:
    """Quantiles with each central interval moved out by its correction (x the scale)."""
    out = []
    for f, y in zip(q, histories):
        f = f.copy()
        s = context_scale(y[-context:])
        for tau, c in corrections.items():
            f[:, levels.index(tau)] -= c * s
            f[:, levels.index(round(1 - tau, 6))] += c * s
        out.append(np.sort(f, axis=-1))
    return out


def test_figures(run_dir: Path | None, model, codec: dict, found, samples: int, seed: int,
                 baselines: tuple[str, ...] = (), plot: int = 4, others: tuple = (),
                 out_name: str = "", calibrate: bool = False) -> dict:
    """Forecast every series of ``found`` from its training history and score the test part
    (``evaluation.json``, ``fan_chart.png`` in ``run_dir``); ``baselines`` are scored beside.
    ``others`` (more (model, codec) pairs on the same data) make an ensemble with ``model``,
    written to ``out_name`` (default evaluation.json, or evaluation_ensemble.json);
    ``calibrate`` widens the intervals by :func:`calibration` first."""
    start = time.perf_counter()
    pairs = ((model, codec), *others)
    levels = model.config.quantiles
    q = _members_forecast(pairs, list(found.train), found, samples, seed,
                          list(found.covariates) or None)
    corrections, point = calibration(pairs, found, levels, samples, seed) if calibrate \
        else ({}, 0.5)
    if corrections:
        q = widen(q, list(found.train), levels, corrections, model.config.context)
    figures = {**score(list(found.test), q, levels, list(found.train), found.period,
                       mape_level=point),
               "data": found.name, "split": found.split, "members": len(pairs),
               "calibration": {f"{t:g}": c for t, c in corrections.items()},
               "seconds": time.perf_counter() - start}
    figures["baselines"] = {}
    for name in baselines:
        t = time.perf_counter()
        bq = [baseline_quantiles(name, y, found.horizon, found.period, levels)
              for y in found.train]
        figures["baselines"][name] = {**score(list(found.test), bq, levels, list(found.train),
                                              found.period), "seconds": time.perf_counter() - t}
    if run_dir is not None:
        name = out_name or ("evaluation" + ("_ensemble" if others else "")
                            + ("_calibrated" if corrections else "") + ".json")
        write_json(run_dir / name, figures)
        if plot:
            fan_chart(run_dir / FAN_CHART, found, q, levels, plot)
    return figures


def summary(f: dict | None, name: str = "rnnkit") -> str:
    if not f:
        return ""
    return (f"{name}: sMAPE {f['smape']:.2f}, MAPE {f['mape']:.2f}, MASE {f['mase']:.3f}, "
            f"CRPS {f['crps']:.4f}, coverage 80% {100 * f['coverage_80']:.1f}%, 95% "
            f"{100 * f['coverage_95']:.1f}% ({f['series']} series, {f['points']} points)")


def fan_chart(path: Path, found, q: list[np.ndarray], levels, count: int) -> None:
    """History tail, truth, median and the 80%/95% bands of the first ``count`` series."""
    from matplotlib.figure import Figure
    count = min(count, len(found))
    fig = Figure(figsize=(10, 2.6 * count))
    for k in range(count):
        ax = fig.add_subplot(count, 1, k + 1)
        y, t, f = found.train[k], found.test[k], q[k]
        tail = y[-4 * found.horizon:]
        past = np.arange(len(y) - len(tail), len(y))
        ahead = np.arange(len(y), len(y) + len(t))
        ax.plot(past, tail, color="black", lw=1, label="history")
        ax.plot(ahead, t, color="black", lw=1, ls="--", label="truth")
        for (lo, hi), alpha in (((0.025, 0.975), 0.2), ((0.1, 0.9), 0.4)):
            ax.fill_between(ahead, quantile_at(levels, f, lo), quantile_at(levels, f, hi),
                            color="tab:blue", alpha=alpha, lw=0,
                            label=f"{round(100 * (hi - lo))}% interval")
        ax.plot(ahead, quantile_at(levels, f, 0.5), color="tab:blue", lw=1.5, label="median")
        ax.set_title(f"{found.name}: {found.ids[k]}", fontsize=9)
        if k == 0:
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def add_evaluate_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baselines", metavar="LIST",
                   help=f"score these beside the run, comma-separated: {', '.join(BASELINES)}")
    p.add_argument("--samples", type=positive_int, metavar="S", help="sample paths (the run's)")
    p.add_argument("--seed", type=nonnegative_int, metavar="S", help="for repeatable samples")
    p.add_argument("--plot", type=nonnegative_int, metavar="N",
                   help="series drawn in fan_chart.png (4)")
    p.add_argument("--calibrate", action="store_true",
                   help="widen the intervals by split-conformal corrections measured on the "
                        "last horizon of the training histories, and score MAPE on the "
                        "quantile level with the lowest MAPE there")
    p.add_argument("--ensemble", nargs="+", metavar="RUN2",
                   help="forecast with these runs too (same data) and combine the quantiles "
                        "by their median")


def evaluate(run_dir: Path, config: dict, options: dict) -> int:
    from rnnkit.tasks.loading import load
    model, codec = load(run_dir)
    d = config["data"]
    found = read_series_set(d["data"], horizon=d["horizon"], frequency=d["frequency"] or None,
                            id_column=d["id_column"], time_column=d["time_column"],
                            value_column=d["value_column"])
    names = tuple(n.strip() for n in (options.get("baselines") or "").split(",") if n.strip())
    for n in names:
        if n not in BASELINES:
            raise RnnkitError(f"unknown baseline {n!r}; choose from {', '.join(BASELINES)}")
    others = []
    for other in options.get("ensemble") or []:
        m, cd = load(other)
        if cd.get("data") != codec["data"] or cd["ids"] != codec["ids"] or \
                m.config.quantiles != model.config.quantiles:
            raise RnnkitError(f"'{other}' is not a forecast run on the same series and "
                              "quantile levels; an ensemble needs them")
        others.append((m, cd))
    f = test_figures(run_dir, model, codec, found, options.get("samples", d["samples"]),
                     options.get("seed", 0), names, options.get("plot", 4), tuple(others),
                     calibrate=bool(options.get("calibrate")))
    print(f"{found.name} ({found.split}):")
    print(summary(f))
    for n, b in f["baselines"].items():
        print(summary(b, n))
    written = run_dir / ("evaluation" + ("_ensemble" if others else "")
                         + ("_calibrated" if f["calibration"] else "") + ".json")
    print(f"{'an ensemble of ' + str(len(others) + 1) + ' runs; ' if others else ''}wrote "
          f"{written}" + (f" and {run_dir / FAN_CHART}" if options.get("plot", 4) else ""))
    return 0
