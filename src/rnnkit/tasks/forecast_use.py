"""Using a trained forecaster: quantile forecasts of series given as long CSV files or as
JSON-able objects (``rnnkit predict``, the server's ``/invocations``). The test figures, the
baselines and the fan chart are in :mod:`rnnkit.tasks.forecast_eval`."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch

from rnnkit.data.datasets.forecasting import read_long_csv
from rnnkit.data.seasonal import seasonal_factors
from rnnkit.data.windows import LOG_SCALE, window
from rnnkit.errors import RnnkitError
from rnnkit.infer.forecast_metrics import quantile_at, quantiles_of_samples
from rnnkit.tasks.flags import nonnegative_int, positive_int

CHUNK = 64                    # series forecast together


def forecast(model, histories: list[np.ndarray], *, covariates: list | None = None,
             indices: list[int] | None = None, horizon: int | None = None, samples: int = 200,
             seed: int = 0) -> list[np.ndarray]:
    """(H, Q) quantiles at ``model.config.quantiles`` after each history, in its units (a
    deseasonalizing model reads each history over its seasonal index and forecasts x the
    index's continuation)."""
    c = model.config
    horizon = horizon or c.horizon
    if c.head == "quantile" and horizon > c.horizon:
        raise RnnkitError(f"a quantile head forecasts the {c.horizon} steps it was trained for; "
                          f"--horizon {horizon} needs a likelihood head")
    model.eval()
    torch.manual_seed(seed)
    factors = [seasonal_factors(y, c.period, len(y) + horizon) if c.deseasonalize else None
               for y in histories]
    histories = [y if f is None else y / f[:len(y)] for y, f in zip(histories, factors)]
    out = []
    for s in range(0, len(histories), CHUNK):
        x = torch.from_numpy(np.stack([
            window(y, None if covariates is None else covariates[s + i], len(y),
                   context=c.context, horizon=c.horizon,
                   index=-1 if indices is None else indices[s + i], future=False,
                   scale_points=c.scale_points)
            for i, y in enumerate(histories[s:s + CHUNK])]))                 # (B, L+H, C)
        with torch.no_grad():
            if c.head == "likelihood":
                paths = model.sample_paths(x, samples, horizon).numpy()        # (B, S, H)
                q = quantiles_of_samples(paths, c.quantiles)                   # (B, H, Q)
            else:
                scale = torch.exp(x[:, 0, LOG_SCALE])[:, None, None]
                q = (model(x)[0] * scale)[:, :horizon].numpy()
        out += list(q.astype(np.float64))
    return [q if f is None else q * f[-horizon:, None] for q, f in zip(out, factors)]


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


def _checked(sid: str, y: np.ndarray, x: np.ndarray, model, codec: dict,
             horizon: int) -> dict:
    """One series (values ``y`` (N,), NaN after the last value; covariates ``x`` (N, K)) checked
    against what the model reads."""
    c = model.config
    n = int(np.sum(~np.isnan(y)))
    if c.id_embed and sid not in set(codec["ids"]):
        raise RnnkitError(f"series {sid!r} was not in the training data, and this model "
                          "learnt an embedding per training series")
    if n < c.context and not codec["pad_short"]:
        raise RnnkitError(f"series {sid!r} has {n} points; this model reads a context of "
                          f"{c.context} (it was trained without --pad-short)")
    if c.num_covariates and len(y) - n < horizon:
        raise RnnkitError(f"series {sid!r} needs {horizon} future rows with its covariates "
                          f"after its last value; it has {len(y) - n}")
    return {"id": sid, "history": y[:n], "covariates": x[:n + horizon]}


def _from_file(path: str, model, codec: dict, horizon: int) -> list[dict]:
    id_col, time_col, value_col = codec["columns"]
    long = read_long_csv(path, id_column=id_col, time_column=time_col, value_column=value_col,
                         frequency=codec["frequency"], future_rows=True)
    if list(long.covariate_names) != codec["covariates"]:
        raise RnnkitError(f"'{path}' has covariate columns {list(long.covariate_names)}; this "
                          f"model was trained with {codec['covariates']}")
    return [_checked(sid, y, x, model, codec, horizon)
            for sid, y, x in zip(long.ids, long.values, long.covariates)]


def _from_object(item: dict, model, codec: dict, horizon: int) -> dict:
    """A series given as ``{"id": str, "values": [number, ...], "covariates": [[...], ...]}``
    (the server's form): values in time order without gaps, covariates (a row per value and
    per future step) only where the model was trained with them."""
    if not isinstance(item, dict) or set(item) - {"id", "values", "covariates"} \
            or not isinstance(item.get("values"), list):
        raise RnnkitError('a series is {"id": ..., "values": [numbers], "covariates": '
                          '[[numbers], ...]} (covariates only for a model trained with them)')
    sid = str(item.get("id", ""))
    try:
        y = np.asarray(item["values"], dtype=np.float64)                          # (N,)
        x = np.asarray(item.get("covariates") or np.zeros((len(y), 0)), dtype=np.float64)
    except (TypeError, ValueError):
        raise RnnkitError(f"series {sid!r}: values and covariates must be numbers") from None
    if y.ndim != 1 or not len(y) or not np.isfinite(y).all():
        raise RnnkitError(f"series {sid!r}: values must be a non-empty list of finite numbers")
    k = len(codec["covariates"])
    if x.ndim != 2 or x.shape[1] != k or not np.isfinite(x).all() or \
            (k and len(x) < len(y)):
        raise RnnkitError(f"series {sid!r}: this model reads {k} covariate(s) per time step, "
                          "given as finite numbers on a row per value and per future step")
    if k:
        y = np.concatenate([y, np.full(len(x) - len(y), np.nan)])
    return _checked(sid, y, x, model, codec, horizon)


def predict(model, codec: dict, inputs: list, *, series: str | None = None,
            horizon: int | None = None, samples: int = 200, seed: int = 0,
            out: str | None = None) -> list[dict]:
    """Quantiles of the next ``horizon`` points of each series in ``inputs`` and ``series``:
    long-CSV file names, or series objects (:func:`_from_object`). Returns
    ``{"id", "horizon", "median", "quantiles": {level: values}}`` per series."""
    sources = list(inputs) + ([series] if series else [])
    if not sources:
        raise RnnkitError("give the histories to forecast: rnnkit predict RUN --series FILE")
    c = model.config
    horizon = horizon or c.horizon
    items = []
    for source in sources:
        if isinstance(source, str):
            items += _from_file(source, model, codec, horizon)
        else:
            items.append(_from_object(source, model, codec, horizon))
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
