"""Seasonal adjustment of the forecaster (``--deseasonalize``, rnnkit.data.seasonal): the
seasonality test against a hand-computed autocorrelation, the indices against a hand-built
classical decomposition, and the forecast path tied to the model run on adjusted histories."""

import json

import numpy as np
import pytest
import torch

from rnnkit.data.seasonal import Z_90, is_seasonal, seasonal_factors
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.tasks.forecast_use import forecast

from conftest import run_cli
from task_fixtures import seasonal_csv

pytestmark = pytest.mark.usefixtures("one_thread")


def multiplicative(n, pattern, seed, noise=0.02):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    trend = rng.uniform(50, 200) * (1 + rng.uniform(-0.01, 0.02) * t)
    return trend * np.asarray(pattern)[t % len(pattern)] * (1 + noise * rng.standard_normal(n))


def acf_by_hand(y, lag):
    d = y - y.mean()
    return float(np.sum(d[lag:] * d[:-lag]) / np.sum(d * d))


def decomposition_by_hand(y, m):
    """Classical multiplicative decomposition, written out: a centred 2 x m moving average as
    the trend (m even), each position's mean ratio to it, normalised to mean 1."""
    n = len(y)
    trend = np.full(n, np.nan)
    for t in range(m // 2, n - m // 2):
        w = y[t - m // 2:t + m // 2 + 1].copy()
        w[0] *= 0.5
        w[-1] *= 0.5
        trend[t] = w.sum() / m
    ratio = y / trend
    means = np.array([np.nanmean(ratio[k::m]) for k in range(m)])
    return means / means.mean()


@pytest.mark.parametrize("seed", range(4))
def test_the_seasonality_test_is_thetas_on_a_hand_computed_autocorrelation(seed):
    rng = np.random.default_rng(100 + seed)
    for y, m in ((multiplicative(40, rng.uniform(0.7, 1.3, 4), seed, noise=0.2), 4),
                 (np.exp(np.cumsum(0.05 * rng.standard_normal(60))) * 100, 12)):
        r = [acf_by_hand(y, k) for k in range(1, m + 1)]
        expected = abs(r[-1]) > Z_90 * np.sqrt((1 + 2 * sum(x * x for x in r[:-1])) / len(y))
        assert is_seasonal(y, m) == expected


@pytest.mark.parametrize("seed", range(3))
def test_indices_match_a_hand_built_classical_decomposition(seed):
    pattern = np.random.default_rng(seed).uniform(0.6, 1.4, 12)
    y = multiplicative(84, pattern, seed)
    assert is_seasonal(y, 12)
    s = seasonal_factors(y, 12, 84 + 18)                                  # (n + H,)
    np.testing.assert_allclose(s[:12], decomposition_by_hand(y, 12), rtol=1e-9)
    np.testing.assert_allclose(s[84:], s[np.arange(84, 102) % 12])      # periodic ahead
    np.testing.assert_allclose(s[:12], pattern / pattern.mean(), rtol=0.05)


def test_series_the_test_rejects_or_cannot_adjust_keep_their_values():
    rng = np.random.default_rng(0)
    seasonal = multiplicative(48, [0.8, 1.0, 1.3, 0.9], 0)
    flat = 100 + rng.standard_normal(48)
    cases = {"noise": (flat, 4), "period 1": (seasonal, 1), "under two seasons": (seasonal[:7], 4),
             "a non-positive value": (np.where(np.arange(48) == 5, -1.0, seasonal), 4)}
    for name, (y, m) in cases.items():
        assert np.array_equal(seasonal_factors(y, m, len(y) + 3), np.ones(len(y) + 3)), name


def test_a_deseasonalizing_model_forecasts_the_adjusted_history_times_the_index():
    torch.manual_seed(0)
    config = ForecasterConfig(horizon=6, context=12, hidden_size=8, num_layers=1,
                              head="quantile", deseasonalize=True, period=12)
    model = Forecaster(config)
    plain = Forecaster(ForecasterConfig(**{**config.__dict__, "deseasonalize": False}))
    plain.load_state_dict(model.state_dict())
    histories = [multiplicative(60, np.random.default_rng(k).uniform(0.7, 1.3, 12), k)
                 for k in range(3)] + [100 + np.random.default_rng(9).standard_normal(40)]
    got = forecast(model, histories)
    factors = [seasonal_factors(y, 12, len(y) + 6) for y in histories]
    adjusted = forecast(plain, [y / s[:len(y)] for y, s in zip(histories, factors)])
    for q, a, y, s in zip(got, adjusted, histories, factors):
        np.testing.assert_allclose(q, a * s[len(y):, None], rtol=1e-12)
    assert not np.allclose(got[0], forecast(plain, histories[:1])[0])


def test_a_run_keeps_deseasonalize_period_and_scale_points_and_validates_on_them(
        tmp_path, capsys):
    rows = ["id,time,value"]
    for k in range(8):
        y = multiplicative(48, np.random.default_rng(k).uniform(0.7, 1.3, 12), k)
        rows += [f"s{k},{2000 + t // 12}-{t % 12 + 1:02d},{v:.4f}" for t, v in enumerate(y)]
    data = tmp_path / "m.csv"
    data.write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "forecast", "--data", str(data), "--horizon", "6",
                             "--context", "12", "--head", "quantile", "--hidden", "8",
                             "--layers", "1", "--steps", "20", "--deseasonalize",
                             "--scale-points", "4",
                             "--val-fraction", "0.5", "--eval-every", "10", "--out", str(run),
                             "--no-progress")
    assert code == 0, err
    model = json.loads((run / "config.json").read_text())["model"]
    assert model["deseasonalize"] is True and model["period"] == 12
    assert model["scale_points"] == 4
    code, out, err = run_cli(capsys, "predict", str(run), "--series", str(data), "--json")
    assert code == 0, err
    assert len(out.splitlines()) == 8


@pytest.mark.slow
def test_a_multiplicative_season_is_learnt_faster_when_removed(tmp_path, capsys):
    data = seasonal_csv(tmp_path / "season.csv")
    figures = {}
    for flag in ((), ("--deseasonalize",)):
        run = tmp_path / f"run{len(flag)}"
        code, _, err = run_cli(capsys, "train", "forecast", "--data", str(data), "--horizon",
                               "12", "--context", "24", "--head", "quantile", "--hidden", "32",
                               "--layers", "1", "--steps", "150", "--lr", "0.01",
                               "--batch-size", "32", *flag, "--out", str(run), "--no-progress")
        assert code == 0, err
        figures[flag] = json.loads((run / "evaluation.json").read_text())["smape"]
    assert figures[("--deseasonalize",)] < figures[()], figures
