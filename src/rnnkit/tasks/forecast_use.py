"""Using a trained forecaster: quantile forecasts of series, the test figures, the statistical
baselines beside them, and a fan chart.

The run folder of a forecast run adds::

    evaluation.json    test figures (sMAPE, MAPE, MASE, CRPS, 80%/95% coverage), baselines
    evaluation_ensemble.json   the same for ``rnnkit evaluate RUN --ensemble RUN2 ...``
    evaluation[_ensemble]_calibrated.json   with ``--calibrate``
    fan_chart.png      a few series: history, truth, median, 80% and 95% bands
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.data.datasets.forecasting import read_long_csv, read_series_set
from rnnkit.data.windows import LOG_SCALE, context_scale, window
from rnnkit.errors import RnnkitError
from rnnkit.infer.forecast_metrics import quantile_at, quantiles_of_samples, score
from rnnkit.models.forecast_baselines import BASELINES, baseline_quantiles
from rnnkit.tasks.flags import nonnegative_int, positive_int
from rnnkit.train.run_folder import write_json

EVALUATION_FILE = "evaluation.json"
ENSEMBLE_FILE = "evaluation_ensemble.json"
FAN_CHART = "fan_chart.png"
CHUNK = 64                    # series forecast together


def forecast(model, histories: list[np.ndarray], *, covariates: list | None = None,
             indices: list[int] | None = None, horizon: int | None = None, samples: int = 200,
             seed: int = 0) -> list[np.ndarray]:
    """(H, Q) quantiles at ``model.config.quantiles`` after each history, in its units."""
    c = model.config
    horizon = horizon or c.horizon
    if c.head == "quantile" and horizon > c.horizon:
        raise RnnkitError(f"a quantile head forecasts the {c.horizon} steps it was trained for; "
                          f"--horizon {horizon} needs a likelihood head")
    model.eval()
    torch.manual_seed(seed)
    out = []
    for s in range(0, len(histories), CHUNK):
        x = torch.from_numpy(np.stack([
            window(y, None if covariates is None else covariates[s + i], len(y),
                   context=c.context, horizon=c.horizon,
                   index=-1 if indices is None else indices[s + i], future=False)
            for i, y in enumerate(histories[s:s + CHUNK])]))                 # (B, L+H, C)
        with torch.no_grad():
            if c.head == "likelihood":
                paths = model.sample_paths(x, samples, horizon).numpy()        # (B, S, H)
                q = quantiles_of_samples(paths, c.quantiles)                   # (B, H, Q)
            else:
                scale = torch.exp(x[:, 0, LOG_SCALE])[:, None, None]
                q = (model(x)[0] * scale)[:, :horizon].numpy()
        out += list(q.astype(np.float64))
    return out


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


# -- rnnkit predict / evaluate ---------------------------------------------------------------

def add_predict_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--series", metavar="FILE",
                   help="long CSV of histories (id, time, value[, covariates]); rows past the "
                        "last value carry future covariates")
    p.add_argument("--horizon", type=positive_int, metavar="H",
                   help="points to forecast (default: the trained horizon)")
    p.add_argument("--samples", type=positive_int, metavar="S", help="sample paths (200)")
    p.add_argument("--seed", type=nonnegative_int, metavar="S", help="for repeatable samples")
    p.add_argument("--out", metavar="FILE", help="write the quantiles to FILE (.csv or .json)")


def read_inputs(texts: list[str], codec) -> list:
    """Positional INPUTs of a forecast run are long-CSV files, like --series."""
    return list(texts)


def _histories(path: str, model, codec: dict, horizon: int) -> list[dict]:
    id_col, time_col, value_col = codec["columns"]
    long = read_long_csv(path, id_column=id_col, time_column=time_col, value_column=value_col,
                         frequency=codec["frequency"], future_rows=True)
    c = model.config
    if list(long.covariate_names) != codec["covariates"]:
        raise RnnkitError(f"'{path}' has covariate columns {list(long.covariate_names)}; this "
                          f"model was trained with {codec['covariates']}")
    known = set(codec["ids"])
    out = []
    for sid, y, x, first in zip(long.ids, long.values, long.covariates, long.starts):
        n = int(np.sum(~np.isnan(y)))
        if c.id_embed and sid not in known:
            raise RnnkitError(f"series {sid!r} was not in the training data, and this model "
                              "learnt an embedding per training series")
        if n < c.context and not codec["pad_short"]:
            raise RnnkitError(f"series {sid!r} has {n} points; this model reads a context of "
                              f"{c.context} (it was trained without --pad-short)")
        if c.num_covariates and len(y) - n < horizon:
            raise RnnkitError(f"series {sid!r} needs {horizon} future rows with its covariates "
                              f"after its last value; it has {len(y) - n}")
        out.append({"id": sid, "history": y[:n], "covariates": x[:n + horizon], "start": first})
    return out


def predict(model, codec: dict, inputs: list, *, series: str | None = None,
            horizon: int | None = None, samples: int = 200, seed: int = 0,
            out: str | None = None) -> list[dict]:
    """Quantiles of the next ``horizon`` points of each series of the long CSVs ``inputs`` and
    ``series``: ``{"id", "horizon", "median", "quantiles": {level: values}}`` per series."""
    files = list(inputs) + ([series] if series else [])
    if not files:
        raise RnnkitError("give the histories to forecast: rnnkit predict RUN --series FILE")
    c = model.config
    horizon = horizon or c.horizon
    items = [item for f in files for item in _histories(f, model, codec, horizon)]
    index = {sid: i for i, sid in enumerate(codec["ids"])}
    q = forecast(model, [i["history"] for i in items], horizon=horizon, samples=samples,
                 covariates=[i["covariates"] for i in items] if c.num_covariates else None,
                 indices=[index.get(i["id"], -1) for i in items], seed=seed)
    outputs = [{"id": item["id"], "horizon": horizon,
                "median": quantile_at(c.quantiles, f, 0.5).tolist(),
                "quantiles": {f"{lv:g}": f[:, j].tolist() for j, lv in enumerate(c.quantiles)}}
               for item, f in zip(items, q)]
    if out:
        write_forecasts(Path(out), outputs)
    return outputs


def write_forecasts(path: Path, outputs: list[dict]) -> None:
    """``.json``: the outputs as a list; ``.csv``: one row per (id, step) with a column per
    quantile level."""
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(outputs, indent=1) + "\n")
        return
    if path.suffix.lower() != ".csv":
        raise RnnkitError(f"--out '{path}': name it .csv or .json")
    levels = list(outputs[0]["quantiles"]) if outputs else []
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "step", *[f"q{lv}" for lv in levels]])
        for o in outputs:
            for h in range(o["horizon"]):
                w.writerow([o["id"], h + 1, *[f"{o['quantiles'][lv][h]:.6g}" for lv in levels]])


def show(output: dict) -> str:
    q = output["quantiles"]
    lo, hi = q.get("0.1"), q.get("0.9")
    band = "" if lo is None or hi is None else "  80%: " + " ".join(
        f"[{a:.4g}, {b:.4g}]" for a, b in zip(lo, hi))
    return f"{output['id']}\tmedian: " + " ".join(f"{m:.4g}" for m in output["median"]) + band


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
