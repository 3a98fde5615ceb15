"""Time-series forecasting: one global model over many series (DeepAR-style).

    builtin:m3-monthly | long CSV (id, time, value, covariates)  -> SeriesSet with its split
      -> --deseasonalize: each seasonal series over its multiplicative seasonal index
         (data.seasonal; the forecast multiplied back)
      -> random windows: L context + H horizon points, each divided by the mean absolute value
         of its context or its last --scale-points (data.windows), seeded and resumable
      -> Forecaster: any --cell over the window, then a likelihood head (gaussian, student_t,
         negbin: teacher-forced NLL, sample paths at forecast time) or a direct quantile head
      -> test: each series forecast from its whole training history; sMAPE, MAPE, MASE,
         CRPS (decile loss), 80%/95% coverage (infer.forecast_metrics)

``predict`` reads a long CSV of histories (``--series``) and returns quantiles per series;
``evaluate`` scores the test part again, beside the statistical baselines if asked, and draws
a fan chart (:mod:`rnnkit.tasks.forecast_use`, :mod:`rnnkit.tasks.forecast_eval`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.datasets.forecasting import FREQUENCIES, SeriesSet, read_series_set
from rnnkit.data.seasonal import seasonal_factors
from rnnkit.data.windows import WindowBatches, batch_of, window
from rnnkit.errors import RnnkitError
from rnnkit.typed import config_from
from rnnkit.models.forecaster import HEADS, Forecaster, ForecasterConfig
from rnnkit.models.likelihoods import LIKELIHOODS
from rnnkit.tasks import forecast_eval, forecast_use
from rnnkit.tasks.base import Task, epochs_of, train_config
from rnnkit.tasks.flags import nonnegative_int, positive_int
from rnnkit.train.loop import evaluate_loss
from rnnkit.train.losses import forecast_loss
from rnnkit.train.run import RunResult, RunSetup, RunSpec

MAX_CONTEXT_HORIZONS = 4      # the default context: at most this many horizons


@dataclass(frozen=True)
class ForecastDataConfig:
    """Which series, how they are split and how training windows are drawn."""

    data: str = ""               # builtin:NAME or a long CSV (id, time, value, covariates)
    horizon: int = 0             # H; 0: the data set's own (a CSV needs it)
    context: int = 0             # L; 0: min(4 H, the shortest history less H), at least 1
    frequency: str = ""          # "": the data set's, or read from a CSV's dates
    pad_short: bool = False      # left-pad histories shorter than L + H instead of refusing
    recent: int = 0              # forecast starts from the last N horizons of a series (0: any)
    batch_size: int = 128        # windows per batch
    val_fraction: float = 0.0    # share of series whose last horizon validates (0: none)
    samples: int = 200           # sample paths per series for the test figures
    id_column: str = "id"        # CSV columns
    time_column: str = "time"
    value_column: str = "value"


@dataclass
class ForecastData:
    config: ForecastDataConfig
    set: SeriesSet
    context: int
    train: list                  # (T_i,) histories the windows are drawn from
    covariates: list | None      # (T_i + H, K) per series, or None
    val: list                    # (series index, history, held-out last H points)
    sha256: str


def resolve_context(data: ForecastDataConfig, found: SeriesSet) -> int:
    """The context length, checked against the shortest history (one-line errors)."""
    h, shortest = found.horizon, min(len(y) for y in found.train)
    if not data.context:
        return max(1, min(MAX_CONTEXT_HORIZONS * h, shortest - h))
    if not data.pad_short:
        short = [(i, len(y)) for i, y in zip(found.ids, found.train) if len(y) < data.context + h]
        if short:
            sid, n = short[0]
            raise RnnkitError(f"series {sid!r} has {n} points, fewer than context + horizon = "
                              f"{data.context} + {h} ({len(short)} such series); lower "
                              "--context or pass --pad-short to left-pad them")
    return data.context


def adjusted(y: np.ndarray, config: ForecasterConfig, known: int | None = None) -> np.ndarray:
    """``y`` divided by the seasonal index that its first ``known`` points (default all) give,
    when the model deseasonalizes; ``y`` itself otherwise."""
    if not config.deseasonalize:
        return y
    return y / seasonal_factors(y[:known], config.period, len(y))


class ForecastTask(Task):
    name = "forecast"
    help = "forecaster: quantiles of the next H points of many series (DeepAR-style)"
    data_class = ForecastDataConfig
    derived = ("horizon", "context", "num_covariates", "num_series", "period")
    takes_inputs = False
    served_inputs = "series"
    defaults = dict(cell="lstm", embed=0, hidden=64, layers=2, dropout=0.1, batch_size=128,
                    lr=1e-3, clip=1.0, warmup=100, weight_decay=0.0, seed=0, val_fraction=0.0,
                    steps=2000, eval_every=0, head="likelihood", likelihood="student_t",
                    recent=0, samples=200, frequency=None, id_column="id", time_column="time",
                    value_column="value")

    def add_train_flags(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--horizon", type=positive_int, metavar="H",
                       help="points to forecast (a built-in set has its own)")
        p.add_argument("--context", type=positive_int, metavar="L",
                       help="past points read (default: min(4 H, shortest history - H))")
        p.add_argument("--frequency", choices=FREQUENCIES,
                       help="the series' frequency (default: the data set's, or from the dates)")
        p.add_argument("--pad-short", action="store_true",
                       help="left-pad histories shorter than context + horizon")
        p.add_argument("--recent", type=nonnegative_int, metavar="N",
                       help="draw forecast starts from the last N horizons only (0: anywhere)")
        p.add_argument("--head", choices=HEADS, help="likelihood (sample paths) or quantile")
        p.add_argument("--likelihood", choices=tuple(LIKELIHOODS),
                       help="the likelihood head's distribution (negbin: counts)")
        p.add_argument("--deseasonalize", action="store_true",
                       help="divide each seasonal series by its multiplicative seasonal index "
                            "(Theta's test and decomposition; needs statsmodels)")
        p.add_argument("--scale-points", type=nonnegative_int, metavar="N",
                       help="scale each window by its last N context points (default: all)")
        p.add_argument("--relative-loss", action="store_true",
                       help="quantile head: divide the pinball loss by |y| (MAPE-aligned)")
        p.add_argument("--samples", type=positive_int, metavar="S",
                       help="sample paths per series for the test figures")
        for column in ("id", "time", "value"):
            p.add_argument(f"--{column}-column", metavar="NAME", help=f"CSV {column} column")

    def spec(self, s: dict) -> RunSpec:
        if "data" not in s:
            raise RnnkitError("rnnkit train forecast needs --data builtin:NAME or a long CSV "
                              "(`rnnkit datasets` lists the built-in names)")
        data = ForecastDataConfig(
            s["data"], s.get("horizon", 0), s.get("context", 0), s["frequency"] or "",
            bool(s.get("pad_short")), s["recent"], s["batch_size"], s["val_fraction"],
            s["samples"], s["id_column"], s["time_column"], s["value_column"])
        model = dict(cell=s["cell"], hidden_size=s["hidden"], num_layers=s["layers"],
                     dropout=s["dropout"], head=s["head"], likelihood=s["likelihood"],
                     id_embed=s["embed"], deseasonalize=bool(s.get("deseasonalize")),
                     scale_points=s.get("scale_points") or 0)
        options = {"relative_loss": True} if s.get("relative_loss") else {}
        return RunSpec(data, model, train_config(s), epochs_of(s), options)

    def prepare(self, data: ForecastDataConfig) -> ForecastData:
        found = read_series_set(data.data, horizon=data.horizon, frequency=data.frequency or None,
                                id_column=data.id_column, time_column=data.time_column,
                                value_column=data.value_column)
        context, h = resolve_context(data, found), found.horizon
        covariates = list(found.covariates) if found.covariate_names else None
        train, val = list(found.train), []
        if data.val_fraction > 0:
            rng = np.random.default_rng(0)
            able = [i for i, y in enumerate(train) if len(y) > 2 * h]
            for i in sorted(rng.permutation(able)[:max(1, round(data.val_fraction * len(able)))]):
                val.append((i, train[i][:-h], train[i][-h:]))
                train[i] = train[i][:-h]
        digest = hashlib.sha256()
        for sid, y in zip(found.ids, found.train):
            digest.update(sid.encode())
            digest.update(np.ascontiguousarray(y).tobytes())
        return ForecastData(data, found, context, train, covariates, val, digest.hexdigest())

    def codec_of(self, prepared: ForecastData) -> dict:
        found = prepared.set
        data = prepared.config
        return {"data": found.name, "frequency": found.frequency, "period": found.period,
                "covariates": list(found.covariate_names), "ids": list(found.ids),
                "pad_short": data.pad_short,
                "columns": [data.id_column, data.time_column, data.value_column]}

    def build(self, prepared: ForecastData, settings: dict, spec: RunSpec) -> RunSetup:
        found, data = prepared.set, spec.data
        config = config_from(ForecasterConfig, settings, "the model settings",
                             horizon=found.horizon, context=prepared.context,
                             num_covariates=len(found.covariate_names), num_series=len(found),
                             period=found.period)
        if LIKELIHOODS[config.likelihood].counts and config.head == "likelihood" and any(
                (y < 0).any() or (y != np.round(y)).any() for y in found.train):
            raise RnnkitError("--likelihood negbin models counts; these series have negative "
                              "or fractional values (use gaussian or student_t)")
        model = Forecaster(config)
        relative = bool(spec.options.get("relative_loss"))
        if relative and config.head != "quantile":
            raise RnnkitError("--relative-loss weighs the quantile head's pinball loss; "
                              "give --head quantile")
        loss_fn = forecast_loss(config, relative=relative)
        per_epoch = max(1, -(-len(found) // data.batch_size))
        train = [adjusted(y, config) for y in prepared.train]
        batches = WindowBatches(train, prepared.covariates, context=prepared.context,
                                horizon=found.horizon, batch_size=data.batch_size,
                                per_epoch=per_epoch, seed=spec.train.seed, recent=data.recent,
                                pad=data.pad_short, scale_points=config.scale_points)
        evaluate = None
        if prepared.val:
            windows = [window(adjusted(np.concatenate([y, ahead]), config, len(y)),
                              None if prepared.covariates is None else prepared.covariates[i],
                              len(y), context=prepared.context, horizon=found.horizon, index=i,
                              scale_points=config.scale_points)
                       for i, y, ahead in prepared.val]
            val = [batch_of(windows[i:i + 256]) for i in range(0, len(windows), 256)]

            def evaluate() -> dict:
                return evaluate_loss(model, loss_fn, val)

        codec = self.codec_of(prepared)
        return RunSetup(
            model, config, batches, per_epoch, loss_fn,
            meta={"task": self.name, "model": dataclasses.asdict(config), "codec": codec},
            config={"split": found.split, "series": len(found), "horizon": found.horizon,
                    "context": prepared.context, "frequency": found.frequency},
            fingerprint={"data_sha256": prepared.sha256}, evaluate=evaluate,
            title=f"{config.cell} forecaster ({config.head}): {found.name}")

    def test(self, run_dir: Path, prepared: ForecastData, setup: RunSetup, spec: RunSpec,
             step: int) -> dict:
        return forecast_eval.test_figures(run_dir, setup.model, self.codec_of(prepared),
                                         prepared.set, spec.data.samples, spec.train.seed)

    def report(self, result: RunResult, spec: RunSpec) -> int:
        super().report(result, spec)
        print(forecast_eval.summary(result.test))
        return 0

    def from_meta(self, meta: dict):
        try:
            config = ForecasterConfig(**{**meta["model"],
                                         "quantiles": tuple(meta["model"]["quantiles"])})
            return Forecaster(config), meta["codec"]
        except (TypeError, KeyError) as e:
            raise RnnkitError(f"the model config is not one this version knows ({e})") from None

    add_predict_flags = staticmethod(forecast_use.add_predict_flags)
    read_inputs = staticmethod(forecast_use.read_inputs)
    predict = staticmethod(forecast_use.predict)
    show = staticmethod(forecast_use.show)
    add_evaluate_flags = staticmethod(forecast_eval.add_evaluate_flags)
    evaluate = staticmethod(forecast_eval.evaluate)
