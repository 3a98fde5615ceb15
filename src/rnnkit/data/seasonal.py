"""Multiplicative seasonal adjustment, as the Theta method applies it before forecasting
(Assimakopoulos & Nikolopoulos 2000, the M3 winner; Hyndman & Billah 2003).

A history y (n,) with seasonal period m is adjusted when it passes the 90% autocorrelation
test at lag m (m >= 4, n >= 2 m, every value positive):

    |r_m| > 1.645 sqrt((1 + 2 sum_{k=1}^{m-1} r_k^2) / n)

Its seasonal indices s_t come from the classical multiplicative decomposition (a centred 2 x m
moving average as the trend, y_t / trend_t averaged per position in the season and normalised to
mean 1; statsmodels' ``seasonal_decompose``), periodic, so s_{n+h} = s_{(n+h) mod m}. A network
then reads and forecasts y_t / s_t; its forecasts are multiplied by s back. Recurrent
forecasters learn better from deseasonalised series when the series are short (Hewamalage,
Bergmeir & Bandara 2021, "Recurrent neural networks for time series forecasting", IJF 37).

>>> import numpy as np
>>> t = np.arange(48)
>>> y = (10 + 0.1 * t) * np.array([0.8, 1.0, 1.3, 0.9])[t % 4]
>>> s = seasonal_factors(y, 4, 52)
>>> s.shape, bool(np.allclose(s[48:], s[:4]))
((52,), True)
"""

from __future__ import annotations

import numpy as np

from rnnkit.errors import RnnkitError

Z_90 = 1.6448536269514722      # the standard normal's 0.95 quantile (one-sided 90% test)
MIN_INDEX = 0.01               # an index below this makes the adjustment unsafe: none is made


def is_seasonal(y: np.ndarray, period: int) -> bool:
    """Whether ``y`` passes the Theta method's seasonality test at lag ``period``."""
    n = len(y)
    if period < 4 or n < 2 * period or not np.all(np.isfinite(y)) or np.min(y) <= 0:
        return False
    acf = _stattools().acf
    r = acf(y, nlags=period, fft=False)[1:]                                 # (m,)
    stat = np.sqrt((1 + 2 * np.sum(r[:-1] ** 2)) / n)
    return bool(np.abs(r[-1]) > Z_90 * stat)


def seasonal_factors(y: np.ndarray, period: int, length: int) -> np.ndarray:
    """The multiplicative seasonal index s_t (length,) of ``y``'s positions 0 .. length-1
    (length >= len(y) reaches into the forecast); all ones when ``y`` is not adjusted."""
    if not is_seasonal(y, period):
        return np.ones(length)
    from statsmodels.tsa.seasonal import seasonal_decompose
    s = np.asarray(seasonal_decompose(np.asarray(y, dtype=np.float64), model="multiplicative",
                                      period=period).seasonal)              # (n,) periodic
    if np.min(s) < MIN_INDEX:
        return np.ones(length)
    return s[np.arange(length) % period]


def _stattools():
    try:
        from statsmodels.tsa import stattools
    except ImportError:
        raise RnnkitError("--deseasonalize needs statsmodels: pip install 'rnnkit[forecast]'") \
            from None
    return stattools
