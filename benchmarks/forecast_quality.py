"""The forecasting rows of docs/results.json (``python benchmarks/quality.py m3|tourism``).

Per frequency of the M3 (yearly, quarterly, monthly, other) or Tourism (yearly, quarterly,
monthly) competition, on its official split: train ``rnnkit train forecast`` with the recipe
below (one thread) with seeds 0, 1 and 2 (a member whose run folder is complete is reused;
three more where a recipe adds an ``also`` variant), forecast every series from its whole
training history, combine the members by the median of their quantiles (``rnnkit evaluate
RUN --ensemble RUN2 ...``) and score the test part; then run naive, seasonal naive, ETS and
Theta (statsforecast; ARIMA with ``--arima``, minutes more) on the same histories with the
same metric code (:mod:`rnnkit.infer.forecast_metrics`). The "average" rows pool every
forecast point of every frequency alike, as N-BEATS computes its Average column.

Published figures (Oreshkin et al., "N-BEATS: Neural basis expansion analysis for
interpretable time series forecasting", ICLR 2020, arXiv:1905.10437, Appendix C.2 Table 14
for M3 sMAPE and C.3 Table 15 for Tourism MAPE) sit beside our own runs of the same methods:
the statsforecast implementations differ a little from the competition entries.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from results_rows import row

from rnnkit.data.datasets.forecasting import read_series_set
from rnnkit.infer.forecast_metrics import pooled
from rnnkit.tasks import TASKS
from rnnkit.tasks.forecast import ForecastDataConfig
from rnnkit.tasks.forecast_eval import summary, test_figures
from rnnkit.tasks.loading import load
from rnnkit.train.config import TrainConfig
from rnnkit.train.run import RunSpec, train_run

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "quality"
BASELINES = ("naive", "snaive", "ets", "theta")
FREQUENCIES = {"m3": ("yearly", "quarterly", "monthly", "other"),
               "tourism": ("yearly", "quarterly", "monthly")}
METRIC = {"m3": "smape", "tourism": "mape"}
# The competition's figure per frequency and average (N-BEATS paper, Tables 14 and 15).
PUBLISHED = {
    "m3": {"Theta (M3 winner)": (16.90, 8.96, 13.85, 4.41, 13.01),
           "N-BEATS-I+G": (15.93, 8.84, 13.11, 4.24, 12.37),
           "N-BEATS-G": (16.2, 8.92, 13.19, 4.19, 12.47)},
    "tourism": {"SNaive": (23.61, 16.46, 22.56, 21.25),
                "Theta": (23.45, 16.15, 22.11, 20.88),
                "N-BEATS-I+G": (21.44, 14.78, 19.29, 18.52),
                "N-BEATS-G": (21.67, 14.71, 19.17, 18.47)},
}
# Our run of the published method each published row sits beside.
OURS = {"Theta (M3 winner)": "theta", "Theta": "theta", "SNaive": "snaive"}
# Recipes: context L (with --pad-short), forecast starts from the last `recent` horizons,
# optimiser steps, peak learning rate, the options --deseasonalize, --relative-loss and
# --scale-points, and the dropout where it differs from MODEL's; the rest as `rnnkit train
# forecast`'s defaults but the quantile head. M3 quarterly, monthly and other and Tourism
# yearly are chosen on a validation split (the last horizon of every training history held
# out), never on the test part; the comparisons are in docs/guide.md, "Choosing the recipes".
# M3 yearly and Tourism quarterly and monthly keep earlier choices, made before that protocol.
# `also`: MEMBERS more members with these changes join the ensemble (a mixed ensemble).
# Tourism is scored by MAPE, so its recipes train with --relative-loss.
RECIPES = {
    ("m3", "yearly"): dict(context=24, recent=20, steps=1500, lr=1e-3),
    ("m3", "quarterly"): dict(context=16, recent=20, steps=6000, lr=2e-3, deseasonalize=True,
                              also=dict(deseasonalize=False)),
    ("m3", "monthly"): dict(context=54, recent=20, steps=3000, lr=2e-3, deseasonalize=True),
    ("m3", "other"): dict(context=32, recent=10, steps=6000, lr=2e-3),
    ("tourism", "yearly"): dict(context=8, recent=20, steps=1500, lr=1e-3, relative=True,
                                scale_points=1, dropout=0.3),
    ("tourism", "quarterly"): dict(context=32, recent=10, steps=3000, lr=2e-3, relative=True),
    ("tourism", "monthly"): dict(context=72, recent=20, steps=3000, lr=2e-3, relative=True),
}
MODEL = dict(cell="lstm", hidden_size=64, num_layers=2, dropout=0.1, head="quantile")
MEMBERS = 3          # runs per frequency (seeds 0, 1, 2), combined by the median quantiles


def recipe_of(name: str, variant: int = 0) -> dict:
    """The recipe of ``name`` ("m3-quarterly"); variant 1 with its ``also`` changes."""
    competition, frequency = name.split("-", 1)
    r = RECIPES[(competition, frequency)]
    return {**r, **r["also"]} if variant else r


def members(name: str) -> list[tuple[int, int]]:
    """(variant, seed) of every member: MEMBERS seeds of the recipe, and as many of its
    ``also`` variant where it has one."""
    return [(v, k) for v in range(1 + ("also" in recipe_of(name))) for k in range(MEMBERS)]


def member_dir(name: str, k: int, variant: int = 0) -> Path:
    base = f"{name}-also" if variant else name
    return RUNS / (base if k == 0 else f"{base}-seed{k}")


def settings(r: dict) -> dict:
    """Every setting recipe ``r`` decides, its defaults filled in: what a member is trained
    with and what a finished member's config.json is checked against."""
    return {"context": r["context"], "recent": r["recent"], "steps": r["steps"], "lr": r["lr"],
            "relative": bool(r.get("relative")), "deseasonalize": bool(r.get("deseasonalize")),
            "scale_points": r.get("scale_points", 0), "dropout": r.get("dropout", MODEL["dropout"])}


def recipe_changes(run: Path, r: dict) -> list[str]:
    """What recipe ``r`` sets otherwise than the run in ``run`` was trained with (its
    config.json), as "field: run's value -> recipe's value"; empty when it matches."""
    c = json.loads((run / "config.json").read_text())
    model = c.get("model") or {}
    had = {"context": c["data"]["context"], "recent": c["data"]["recent"],
           "steps": c["train"]["steps"], "lr": c["train"]["lr"],
           "relative": bool((c.get("options") or {}).get("relative_loss")),
           "deseasonalize": bool(model.get("deseasonalize")),
           "scale_points": model.get("scale_points", 0),
           "dropout": model.get("dropout", MODEL["dropout"])}
    wants = settings(r)
    return [f"{key}: {value} -> {wants[key]}" for key, value in had.items()
            if value != wants[key]]


def train_member(name: str, k: int, variant: int = 0) -> float:
    """Train member ``k`` (seed k) of ``name``'s recipe (or its ``also`` variant) unless its
    run folder is complete; the training wall time in seconds (kept in the run folder's
    wall.json). A complete folder trained with another recipe is refused, so a changed recipe
    is never scored on old runs."""
    run = member_dir(name, k, variant)
    wall = run / "wall.json"
    r = recipe_of(name, variant)
    if wall.is_file() and (run / "evaluation.json").is_file():
        changes = recipe_changes(run, r)
        if changes:
            raise SystemExit(f"{run} was trained with another recipe ({'; '.join(changes)}); "
                             "remove it to train the current one")
        return json.loads(wall.read_text())["seconds"]
    r = settings(r)
    data = ForecastDataConfig(data=f"builtin:{name}", context=r["context"], pad_short=True,
                              recent=r["recent"], batch_size=128)
    train = TrainConfig(steps=r["steps"], lr=r["lr"], warmup_steps=100, eval_every=0,
                        log_every=100, seed=k, weight_decay=0.0)
    start = time.perf_counter()
    options = {"relative_loss": True} if r["relative"] else {}
    model = {**MODEL, **{key: r[key] for key in ("deseasonalize", "scale_points", "dropout")}}
    train_run(TASKS["forecast"], run, RunSpec(data, model, train, options=options),
              progress=False)
    seconds = time.perf_counter() - start
    wall.write_text(json.dumps({"seconds": round(seconds, 1)}) + "\n")
    return seconds


def run_frequency(competition: str, frequency: str, baselines: tuple[str, ...]) -> dict:
    """The ensemble of the members of one frequency (seeds 0..MEMBERS-1, and of the ``also``
    variant where the recipe has one), scored beside the baselines; its single member 0 too."""
    name = f"{competition}-{frequency}"
    seconds = sum(train_member(name, k, v) for v, k in members(name))
    found = read_series_set(f"builtin:{name}")
    models = [load(member_dir(name, k, v)) for v, k in members(name)]
    start = time.perf_counter()
    figures = test_figures(None, *models[0], found, 200, 0, baselines, plot=0,
                           others=tuple(models[1:]))
    calibrated = test_figures(None, *models[0], found, 200, 0, (), plot=0,
                              others=tuple(models[1:]), calibrate=True)
    seconds += figures["seconds"] + calibrated["seconds"]
    single = json.loads((member_dir(name, 0) / "evaluation.json").read_text())
    print(f"{name}: {summary(figures, f'rnnkit x{len(models)}')}; {seconds:.0f} s "
          f"({time.perf_counter() - start:.0f} s to forecast and run the baselines)")
    print(f"{name}: {summary(calibrated, 'calibrated')}")
    print(f"{name}: {summary(single, 'rnnkit seed 0')}")
    for b, f in figures["baselines"].items():
        print(f"{name}: {summary(f, b)} ({f['seconds']:.0f} s)")
    return {"figures": figures, "seconds": seconds, "split": found.split, "single": single,
            "calibrated": calibrated}


def forecast_rows(competition: str, *, arima: bool = False) -> tuple[list[dict], float]:
    torch.set_num_threads(1)
    baselines = BASELINES + (("arima",) if arima else ())
    parts = {f: run_frequency(competition, f, baselines) for f in FREQUENCIES[competition]}
    seconds = sum(p["seconds"] for p in parts.values())
    figures = {f: p["figures"] for f, p in parts.items()}
    figures["average"] = {**pooled([p["figures"] for p in parts.values()]), "baselines": {
        b: pooled([p["figures"]["baselines"][b] for p in parts.values()]) for b in baselines}}
    calibrated = {f: p["calibrated"] for f, p in parts.items()}
    calibrated["average"] = pooled(list(calibrated.values()))
    single = {f: p["single"] for f, p in parts.items()}
    single["average"] = pooled(list(single.values()))
    main = METRIC[competition]
    rows = []
    for k, (frequency, f) in enumerate(figures.items()):
        dataset = f"builtin:{competition}-{frequency}" if frequency != "average" else \
            f"builtin:{competition}-* (average over all points)"
        split = parts[frequency]["split"] if frequency != "average" else \
            f"official {competition.upper()} splits, all frequencies"
        for label, values in PUBLISHED[competition].items():
            ours = OURS.get(label)
            rows.append(row(competition, dataset, split, main, f[main],
                            f"{label} (published)" if ours is None else
                            f"{ours} (statsforecast, run here) / {label} (published)",
                            None if ours is None else f["baselines"][ours][main], values[k]))
        beside = {OURS[label] for label in PUBLISHED[competition] if label in OURS}
        for b in baselines:
            if b not in beside:
                rows.append(row(competition, dataset, split, main, f[main],
                                f"{b} (run here)", f["baselines"][b][main]))
        for metric in ("mase", "crps", "coverage_80", "coverage_95") + \
                (("smape",) if main == "mape" else ("mape",)):
            rows.append(row(competition, dataset, split, metric, f[metric],
                            "ets (statsforecast, run here)", f["baselines"]["ets"][metric]))
        for metric in ("coverage_80", "coverage_95", "crps") + (("mape",) if main == "mape"
                                                                 else ()):
            what = "point on the quantile level with the lowest MAPE there" if metric == "mape" \
                else "intervals calibrated there"
            rows.append(row(competition, f"{dataset}, --calibrate on the last training "
                            f"horizon: {what}", split, metric, calibrated[frequency][metric],
                            "ets (statsforecast, run here)", f["baselines"]["ets"][metric]))
        rows.append(row(competition, f"{dataset}, one member (seed 0)", split, main,
                        single[frequency][main], "theta (statsforecast, run here)",
                        f["baselines"]["theta"][main]))
    return rows, seconds


FORECASTING = {"m3": lambda: forecast_rows("m3"), "tourism": lambda: forecast_rows("tourism")}
