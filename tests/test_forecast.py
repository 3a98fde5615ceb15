"""Forecasting: likelihoods against closed forms, scaling round trips, the window sampler's
resume, the metrics' conventions, a seasonal series the model must learn, and bad input refused
in one line (rnnkit.tasks.forecast)."""

import json
import math

import numpy as np
import pytest
import torch

from rnnkit.data.datasets.forecasting import read_long_csv, split_last
from rnnkit.data.windows import WindowBatches, context_scale, unscale, window
from rnnkit.errors import RnnkitError
from rnnkit.infer.forecast_metrics import (mase, mape, quantiles_of_samples, score, smape,
                                           weighted_quantile_loss)
from rnnkit.models.forecast_baselines import naive, snaive
from rnnkit.models.forecaster import QUANTILES, Forecaster, ForecasterConfig
from rnnkit.models.likelihoods import LIKELIHOODS, pinball

from conftest import run_cli
from task_fixtures import seasonal_csv
from test_cli import assert_one_line_error

pytestmark = pytest.mark.usefixtures("one_thread")


def softplus(x):
    return np.log1p(np.exp(x)) + 1e-4


# -- likelihoods --------------------------------------------------------------------------

def random_continuous(seed=0):
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(50, 3, generator=g, dtype=torch.float64)
    scale = torch.rand(50, generator=g, dtype=torch.float64) * 10 + 0.5
    y = torch.randn(50, generator=g, dtype=torch.float64) * 5
    return raw, scale, y


def test_gaussian_and_student_t_nll_match_torch_distributions():
    raw, scale, y = random_continuous()
    mu, sigma = raw[:, 0], torch.nn.functional.softplus(raw[:, 1]) + 1e-4
    nu = 2 + torch.nn.functional.softplus(raw[:, 2])
    normal = torch.distributions.Normal(mu, sigma)
    assert torch.allclose(LIKELIHOODS["gaussian"].nll(raw[:, :2], y, scale),
                          -normal.log_prob(y / scale))
    student = torch.distributions.StudentT(nu, mu, sigma)
    assert torch.allclose(LIKELIHOODS["student_t"].nll(raw, y, scale),
                          -student.log_prob(y / scale))
    # in data space the NLL differs by log s only: the scale is a change of units
    assert torch.allclose(LIKELIHOODS["gaussian"].nll(raw[:, :2], y, scale) + torch.log(scale),
                          -torch.distributions.Normal(mu * scale, sigma * scale).log_prob(y))


def test_gaussian_and_student_t_nll_match_scipy_on_the_scaled_series():
    scipy_stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(50, 3, generator=g, dtype=torch.float64)
    scale = torch.rand(50, generator=g, dtype=torch.float64) * 10 + 0.5
    y = torch.randn(50, generator=g, dtype=torch.float64) * 5
    mu, sigma = raw[:, 0].numpy(), softplus(raw[:, 1].numpy())
    z = (y / scale).numpy()
    ours = LIKELIHOODS["gaussian"].nll(raw[:, :2], y, scale).numpy()
    np.testing.assert_allclose(ours, -scipy_stats.norm.logpdf(z, mu, sigma), rtol=1e-10)
    nu = 2 + np.log1p(np.exp(raw[:, 2].numpy()))
    ours = LIKELIHOODS["student_t"].nll(raw, y, scale).numpy()
    np.testing.assert_allclose(ours, -scipy_stats.t.logpdf(z, nu, mu, sigma), rtol=1e-10)


def random_counts():
    g = torch.Generator().manual_seed(1)
    raw = torch.randn(60, 2, generator=g, dtype=torch.float64)
    scale = torch.rand(60, generator=g, dtype=torch.float64) * 20 + 1
    y = torch.randint(0, 40, (60,), generator=g).double()
    return raw, scale, y


def test_negative_binomial_nll_matches_torch_on_counts():
    raw, scale, y = random_counts()
    m, alpha = LIKELIHOODS["negbin"].parts(raw, scale)
    assert torch.allclose(m, torch.from_numpy(softplus(raw[:, 0].numpy())) * scale)
    ours = LIKELIHOODS["negbin"].nll(raw, y, scale).numpy()
    torch_nb = torch.distributions.NegativeBinomial(1 / alpha, probs=alpha * m / (1 + alpha * m))
    np.testing.assert_allclose(ours, -torch_nb.log_prob(y).numpy(), rtol=1e-9)


def test_negative_binomial_nll_matches_scipy_on_counts():
    scipy_stats = pytest.importorskip("scipy.stats")
    raw, scale, y = random_counts()
    m, alpha = LIKELIHOODS["negbin"].parts(raw, scale)
    r, p = (1 / alpha).numpy(), (1 / (1 + alpha * m)).numpy()
    ours = LIKELIHOODS["negbin"].nll(raw, y, scale).numpy()
    np.testing.assert_allclose(ours, -scipy_stats.nbinom.logpmf(y.numpy(), r, p), rtol=1e-9)


@pytest.mark.parametrize("name", ["gaussian", "student_t", "negbin"])
def test_samples_have_the_distributions_mean(name):
    head = LIKELIHOODS[name]
    torch.manual_seed(0)
    raw = torch.tensor([[0.7, -0.5, 1.0][:head.num_params]]).expand(40000, -1)
    scale = torch.full((40000,), 3.0)
    draws = head.sample(raw, scale)
    mean = float(head.mean(raw[:1], scale[:1]))
    assert abs(float(draws.mean()) - mean) < 0.05 * abs(mean) + 0.05
    if name == "negbin":
        m, alpha = head.parts(raw[:1], scale[:1])
        assert abs(float(draws.var()) - float(m + alpha * m * m)) / float(m + alpha * m * m) < 0.1
        assert torch.equal(draws, draws.round()) and (draws >= 0).all()


def test_pinball_is_the_quantile_loss():
    y = torch.tensor([1.0, 3.0])
    q = torch.tensor([[2.0, 2.0], [2.0, 2.0]])
    levels = torch.tensor([0.1, 0.9])
    assert torch.allclose(pinball(y, q, levels), torch.tensor([[0.9, 0.1], [0.1, 0.9]]))


# -- scaling and windows ----------------------------------------------------------------

def test_scaling_round_trips_and_padding_is_marked_unobserved():
    rng = np.random.default_rng(0)
    y = rng.normal(100, 20, size=30)
    w = window(y, None, 25, context=10, horizon=5, index=3)
    assert np.allclose(unscale(w[:, 0], w), y[15:30], rtol=1e-5)
    assert math.isclose(np.exp(w[0, 2]), np.mean(np.abs(y[15:25])), rel_tol=1e-5)
    short = window(y, None, 4, context=10, horizon=5, future=False)
    assert short[:6, 1].tolist() == [0.0] * 6 and short[6:10, 1].tolist() == [1.0] * 4
    assert short[10:, :2].tolist() == [[0.0, 0.0]] * 5          # the future is unknown
    assert np.allclose(unscale(short[6:10, 0], short), y[:4], rtol=1e-5)
    assert context_scale(np.zeros(4)) == 1.0


def test_a_window_scaled_by_its_last_points_round_trips_and_the_forecast_uses_it():
    from rnnkit.tasks.forecast_use import forecast
    rng = np.random.default_rng(2)
    y = rng.uniform(50, 150, size=30)
    w = window(y, None, 25, context=10, horizon=5, scale_points=3)
    assert math.isclose(np.exp(w[0, 2]), np.mean(np.abs(y[22:25])), rel_tol=1e-5)
    assert np.allclose(unscale(w[:, 0], w), y[15:30], rtol=1e-5)
    short = window(y, None, 2, context=10, horizon=5, scale_points=3)      # 2 points known
    assert math.isclose(np.exp(short[0, 2]), np.mean(y[:2]), rel_tol=1e-5)
    torch.manual_seed(0)
    config = ForecasterConfig(horizon=5, context=10, hidden_size=8, num_layers=1,
                              head="quantile", scale_points=3)
    model = Forecaster(config)
    x = torch.from_numpy(window(y, None, 30, context=10, horizon=5, future=False,
                                scale_points=3))[None]
    want = (model.eval()(x)[0] * np.mean(y[27:30]))[0].detach().numpy()
    np.testing.assert_allclose(forecast(model, [y])[0], want, rtol=1e-5)
    batches = WindowBatches([rng.uniform(50, 150, size=n) for n in (20, 40)], None, context=10,
                            horizon=5, batch_size=16, per_epoch=1, seed=0, pad=False,
                            scale_points=2)
    value = next(iter(batches)).inputs[:, 8:10, 0]                     # the last 2 context
    np.testing.assert_allclose(value.abs().mean(-1).numpy(), 1.0, rtol=1e-5)
    with pytest.raises(RnnkitError, match="scale_points must be in 0 .. context"):
        ForecasterConfig(horizon=5, context=10, scale_points=11)


@pytest.mark.parametrize("stop", [0, 2, 3, 5])
def test_window_batches_continue_from_their_saved_position(stop):
    series = [np.arange(20.0) + k for k in range(5)]

    def draws(source, n):
        out = []
        while len(out) < n:
            for b in source:
                out.append(b.inputs.clone())
                if len(out) == n:
                    break
        return out

    make = lambda: WindowBatches(series, None, context=4, horizon=2, batch_size=3,  # noqa: E731
                                 per_epoch=3, seed=7, recent=3)
    expected = draws(make(), 7)
    fresh = make()
    head = draws(fresh, stop)
    resumed = make()
    resumed.load_state_dict(fresh.state_dict())
    tail = draws(resumed, 7 - stop)
    assert all(torch.equal(a, b) for a, b in zip(head + tail, expected))
    lo, hi = make().starts(20)                   # the last 3 horizons: starts 13 .. 18
    assert (lo, hi) == (13, 18)


# -- metrics and baselines ---------------------------------------------------------------

def test_metrics_follow_the_competition_conventions():
    y, f = np.array([100.0, 200.0, 0.0]), np.array([110.0, 180.0, 0.0])
    assert math.isclose(smape(y, f), (200 * 10 / 210 + 200 * 20 / 380 + 0) / 3)
    assert math.isclose(mape(y, f), (10 + 10) / 2)
    history = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    assert math.isclose(mase(y, f, history, 1), np.mean(np.abs(y - f)) / 2.5)
    assert math.isclose(mase(y, f, history, 2), np.mean(np.abs(y - f)) / 5)
    # a point forecast given as every quantile: the decile CRPS is sum |y - f| / sum |y|
    q = np.repeat(f[:, None], len(QUANTILES), 1)
    assert math.isclose(weighted_quantile_loss(y, q, QUANTILES), 30 / 300)


def test_quantiles_of_samples_and_coverage():
    rng = np.random.default_rng(0)
    samples = rng.normal(0, 1, size=(4000, 3))                      # (S, H)
    q = quantiles_of_samples(samples, QUANTILES)                     # (H, Q)
    assert q.shape == (3, len(QUANTILES))
    assert abs(q[0, QUANTILES.index(0.9)] - 1.2816) < 0.08
    truth = [rng.normal(0, 1, size=3) for _ in range(2000)]
    f = score(truth, [q] * 2000, QUANTILES, [np.arange(10.0)] * 2000, 1)
    assert abs(f["coverage_80"] - 0.8) < 0.03 and abs(f["coverage_95"] - 0.95) < 0.02


def test_naive_baselines_repeat_the_last_value_and_the_last_season():
    y = np.array([1.0, 5.0, 3.0, 2.0, 6.0, 4.0])
    med = QUANTILES.index(0.5)
    assert naive(y, 4, 3, QUANTILES)[:, med].tolist() == [4.0] * 4
    assert snaive(y, 4, 3, QUANTILES)[:, med].tolist() == [2.0, 6.0, 4.0, 2.0]
    q = snaive(y, 4, 3, QUANTILES)
    assert (np.diff(q, axis=1) >= 0).all() and q[3, -1] - q[3, 0] > q[0, -1] - q[0, 0]


@pytest.mark.parametrize("name", ["ets", "theta"])
def test_a_history_too_short_for_a_statistical_method_gets_the_naive_forecast(name):
    pytest.importorskip("statsforecast")
    from rnnkit.models.forecast_baselines import MIN_POINTS, statistical
    rng = np.random.default_rng(1)
    short = 100 + rng.standard_normal(MIN_POINTS[name] - 1)
    np.testing.assert_array_equal(statistical(name, short, 4, 1, QUANTILES),
                                  naive(short, 4, 1, QUANTILES))
    fitted = statistical(name, 100 + rng.standard_normal(MIN_POINTS[name]), 4, 1, QUANTILES)
    assert fitted.shape == (4, len(QUANTILES)) and np.isfinite(fitted).all()


# -- the model ----------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["lstm", "gru", "transformer"])
def test_stepwise_sampling_path_matches_the_teacher_forced_forward(cell):
    torch.manual_seed(0)
    model = Forecaster(ForecasterConfig(horizon=3, context=5, hidden_size=8, num_layers=2,
                                        cell=cell, dropout=0.0)).eval()
    x = torch.randn(2, 8, 4)
    x[..., 1] = 1.0
    whole, _ = model(x)
    raw, state = model._advance(x[:, :6], None, 0)
    assert torch.allclose(raw, whole[:, 5], atol=1e-5)
    for t in (6, 7):
        raw, state = model._advance(x[:, t - 1:t + 1], state, 1)
        assert torch.allclose(raw, whole[:, t], atol=1e-5), t


def test_quantile_head_never_crosses():
    model = Forecaster(ForecasterConfig(horizon=4, context=6, hidden_size=8, num_layers=1,
                                        head="quantile"))
    q, _ = model(torch.randn(5, 10, 4))
    assert q.shape == (5, 4, len(QUANTILES)) and (q.diff(dim=-1) >= 0).all()


@pytest.mark.parametrize("head", ["likelihood", "quantile"])
def test_a_seasonal_series_is_learnt(head, tmp_path, capsys):
    data = seasonal_csv(tmp_path / "season.csv")
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "forecast", "--data", str(data), "--horizon", "12",
                             "--context", "24", "--head", head, "--hidden", "32", "--layers", "1",
                             "--steps", "400", "--lr", "0.01", "--batch-size", "32",
                             "--samples", "100", "--out", str(run), "--no-progress")
    assert code == 0, err
    f = json.loads((run / "evaluation.json").read_text())
    found = split_last(str(data), read_long_csv(data), 12)
    flat = score(list(found.test), [naive(y, 12, 12, QUANTILES) for y in found.train],
                 QUANTILES, list(found.train), 12)
    assert f["smape"] < 6.0 and f["smape"] < 0.5 * flat["smape"], (f["smape"], flat["smape"])
    assert (run / "fan_chart.png").stat().st_size > 1000


# -- the command line: predict, evaluate, bad input ------------------------------------------

@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc")
    data = seasonal_csv(root / "s.csv", n_series=6, length=40)
    run = root / "run"
    from rnnkit.cli.main import main
    torch.set_num_threads(1)
    assert main(["train", "forecast", "--data", str(data), "--horizon", "6", "--context", "12",
                 "--hidden", "8", "--layers", "1", "--steps", "5", "--embed", "3",
                 "--samples", "20", "--out", str(run), "--no-progress"]) == 0
    return run, data


def test_predict_prints_and_writes_quantiles(forecast_run, capsys, tmp_path):
    run, data = forecast_run
    code, out, err = run_cli(capsys, "predict", str(run), "--series", str(data), "--samples",
                             "20", "--out", str(tmp_path / "f.csv"))
    assert code == 0, err
    assert out.count("median:") == 6
    rows = (tmp_path / "f.csv").read_text().splitlines()
    assert rows[0].startswith("id,step,q0.025") and len(rows) == 1 + 6 * 6
    code, out, _ = run_cli(capsys, "predict", str(run), "--series", str(data), "--horizon", "9",
                           "--json", "--out", str(tmp_path / "f.json"))
    first = json.loads(out.splitlines()[0])
    assert first["horizon"] == 9 and len(first["quantiles"]["0.975"]) == 9
    assert len(json.loads((tmp_path / "f.json").read_text())) == 6


def test_evaluate_scores_again_beside_the_naive_baselines(forecast_run, capsys):
    run, _ = forecast_run
    code, out, err = run_cli(capsys, "evaluate", str(run), "--baselines", "naive,snaive")
    assert code == 0, err
    assert "rnnkit: sMAPE" in out and "snaive: sMAPE" in out and "fan_chart.png" in out


def test_bad_input_is_refused_in_one_line(forecast_run, capsys, tmp_path):
    run, _ = forecast_run
    bad = tmp_path / "bad.csv"
    cases = [
        ("id,time,value\na,2000-01,1\na,2000-02,2\na,2000-04,3\n", "misses time stamps"),
        ("id,time,value\na,2000-01,1\na,2000-02,nan\na,2000-03,3\n", "NaN value"),
        ("id,time,value\na,1,1\na,1,2\n", "two rows at time"),
    ]
    for text, needle in cases:
        bad.write_text(text)
        code, _, err = run_cli(capsys, "predict", str(run), "--series", str(bad))
        assert_one_line_error(code, err, needle)
    bad.write_text("".join(f"zz,{2000 + t // 12}-{t % 12 + 1:02d},{t}\n" for t in range(20)))
    bad.write_text("id,time,value\n" + bad.read_text())
    code, _, err = run_cli(capsys, "predict", str(run), "--series", str(bad))
    assert_one_line_error(code, err, "'zz' was not in the training data")
    code, _, err = run_cli(capsys, "predict", str(run))
    assert_one_line_error(code, err, "--series")
    short = seasonal_csv(tmp_path / "short.csv", n_series=2, length=14)
    code, _, err = run_cli(capsys, "train", "forecast", "--data", str(short), "--horizon", "6",
                           "--context", "12", "--steps", "1", "--out", str(tmp_path / "x"))
    assert_one_line_error(code, err, "fewer than context + horizon", "--pad-short")
    code, _, err = run_cli(capsys, "train", "forecast", "--data", str(short), "--steps", "1",
                           "--out", str(tmp_path / "y"))
    assert_one_line_error(code, err, "--horizon")


def test_an_ensemble_of_runs_is_scored_with_the_median_of_their_quantiles(forecast_run, capsys,
                                                                           tmp_path):
    run, data = forecast_run
    other = tmp_path / "other"
    assert run_cli(capsys, "train", "forecast", "--data", str(data), "--horizon", "6",
                   "--context", "12", "--hidden", "8", "--layers", "1", "--steps", "5",
                   "--embed", "3", "--seed", "1", "--out", str(other), "--no-progress")[0] == 0
    code, out, err = run_cli(capsys, "evaluate", str(run), "--ensemble", str(other), "--plot",
                             "0")
    assert code == 0, err
    assert "an ensemble of 2 runs" in out
    assert json.loads((run / "evaluation_ensemble.json").read_text())["members"] == 2
    code, _, err = run_cli(capsys, "evaluate", str(run), "--ensemble", str(tmp_path / "nope"))
    assert_one_line_error(code, err, "does not exist")


def test_calibration_widens_intervals_that_the_last_training_horizon_finds_too_narrow():
    rng = np.random.default_rng(0)
    histories = [rng.normal(100, 10, size=40) for _ in range(30)]
    from rnnkit.data.datasets.forecasting import SeriesSet
    from rnnkit.tasks.forecast_eval import calibration, widen

    class Narrow:                      # a model whose every interval has width zero
        config = ForecasterConfig(horizon=4, context=8, head="quantile")

    import rnnkit.tasks.forecast_eval as use
    real = use.forecast
    use.forecast = lambda m, h, **k: [np.full((4, len(QUANTILES)), 100.0) for _ in h]
    try:
        found = SeriesSet("x", tuple(f"s{i}" for i in range(30)), tuple(histories),
                          tuple(np.zeros(4) for _ in histories), 4, "other", "test")
        c, point = calibration([(Narrow(), {"ids": []})], found, QUANTILES, 10, 0)
    finally:
        use.forecast = real
    assert set(c) == {0.025, 0.05, 0.1, 0.2, 0.3, 0.4} and c[0.025] > c[0.1] > c[0.4] > 0
    assert point in QUANTILES
    # scores are |y - 100| / s with s about 100: the 80% correction is about 1.28 sd / 100
    assert abs(c[0.1] - 0.128) < 0.03
    wide = widen([np.full((4, len(QUANTILES)), 100.0)], histories[:1], QUANTILES, c, 8)[0]
    assert (np.diff(wide, axis=1) >= 0).all() and wide[0, 0] < 100 < wide[0, -1]


def test_relative_loss_divides_the_pinball_loss_by_the_target():
    from rnnkit.train.losses import forecast_loss
    config = ForecasterConfig(horizon=2, context=1, head="quantile", quantiles=(0.5,))
    q = torch.tensor([[[1.0], [1.0]]])                                   # (B, H, Q)
    targets = torch.tensor([[[9.0, 1, 1], [2.0, 1, 1], [4.0, 1, 1]]])   # value, observed, s
    plain = forecast_loss(config)(q, targets)
    relative = forecast_loss(config, relative=True)(q, targets)
    assert torch.isclose(plain, torch.tensor((0.5 * 1 + 0.5 * 3) / 2))
    assert torch.isclose(relative, torch.tensor((0.5 * 1 / 2 + 0.5 * 3 / 4) / 2))
