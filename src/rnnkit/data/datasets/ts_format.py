"""The ``.ts`` time-series classification format of the UCR/UEA archive and sktime.

Header lines start with ``@`` (``@problemName``, ``@univariate``, ``@dimensions``,
``@classLabel true 1 2 ...``, ...), comments with ``#``, and ``@data`` opens the data. Each data
line is one example: its channels separated by ``:``, each a comma-separated list of values
(``?`` is a missing value), and, when ``@classLabel true``, the label last::

    1.86,1.89,1.94:-0.21,-0.19,-0.24:3        # 2 channels of 3 steps, label "3"

A malformed line (a non-number, channels of different lengths, a different number of channels
than the other lines, no label) is refused with its line number. Missing values (``?``, NaN)
are an announced handling: each gap is filled with the channel's previous value (the next one
at the start; 0 for a channel with no value at all), and one warning says how many series had
gaps. Bagnall et al. 2018, "The UEA multivariate time series classification archive".
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rnnkit.data.datasets.announce import warn
from rnnkit.data.datasets.dataset import Split
from rnnkit.data.files import read_input_text
from rnnkit.errors import RnnkitError


def read_ts(path: str | os.PathLike) -> Split:
    """Series (T, C) float32 arrays and their labels from a ``.ts`` file."""
    path = Path(path)
    lines = read_input_text(path).splitlines()
    has_labels, in_data, channels = True, False, None
    series, labels, gaps = [], [], 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            key, _, value = line.partition(" ")
            if key.lower() == "@classlabel":
                has_labels = value.strip().lower().startswith("true")
            elif key.lower() == "@data":
                in_data = True
            elif not key.startswith("@"):
                raise RnnkitError(f"line {number} of '{path}': expected a @header or @data "
                                  f"before the data, got {line[:40]!r}")
            continue
        x, label = _parse_line(line, has_labels, number, path)
        if channels is None:
            channels = x.shape[1]
        elif x.shape[1] != channels:
            raise RnnkitError(f"line {number} of '{path}' has {x.shape[1]} channels, the lines "
                              f"before it {channels}")
        if np.isnan(x).any():
            x = _fill_gaps(x)
            gaps += 1
        series.append(x)
        labels.append(label)
    if not series:
        raise RnnkitError(f"'{path}' has no data lines (a .ts file needs @data then one line "
                          "per series)")
    if gaps:
        warn(f"'{path}': {gaps} series have missing values (? or NaN); each gap was filled "
             "with the channel's previous value")
    return Split(tuple(series), tuple(labels))


def _parse_line(line: str, has_labels: bool, number: int, path: Path):
    parts = line.split(":")
    label = None
    if has_labels:
        if len(parts) < 2:
            raise RnnkitError(f"line {number} of '{path}' has no class label after a ':'")
        label = parts.pop().strip()
        if not label:
            raise RnnkitError(f"line {number} of '{path}' has an empty class label")
    columns = []
    for channel in parts:
        try:
            values = [float("nan") if v.strip() == "?" else float(v)
                      for v in channel.split(",")]
        except ValueError:
            bad = next(v for v in channel.split(",") if not _is_number(v))
            raise RnnkitError(f"line {number} of '{path}': {bad.strip()[:20]!r} is not a "
                              "number") from None
        columns.append(values)
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise RnnkitError(f"line {number} of '{path}': its channels have different lengths "
                          f"{sorted(lengths)}")
    x = np.asarray(columns, dtype=np.float64).T                 # (T, C)
    if np.isinf(x).any():
        raise RnnkitError(f"line {number} of '{path}' holds an infinite value")
    return x.astype(np.float32), label


def _is_number(text: str) -> bool:
    if text.strip() == "?":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fill_gaps(x: np.ndarray) -> np.ndarray:
    """Forward-fill NaNs per channel, then back-fill the leading ones; all-NaN channels -> 0."""
    x = x.copy()
    for c in range(x.shape[1]):
        col = x[:, c]
        ok = ~np.isnan(col)
        if not ok.any():
            col[:] = 0.0
            continue
        idx = np.where(ok, np.arange(len(col)), 0)
        np.maximum.accumulate(idx, out=idx)
        col[:] = col[idx]
        first = int(np.argmax(ok))
        col[:first] = col[first]
    return x
