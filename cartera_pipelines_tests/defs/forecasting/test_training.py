"""Training on synthetic panels shaped like a distributor's catalog: no future data in any window, the
issue's cases (a new high-volume article, a 13-month article, all-zeros on sparse demand), bounds."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from cartera_pipelines.defs.forecasting import model_files as files
from cartera_pipelines.defs.forecasting.demand import month_range
from cartera_pipelines.defs.forecasting.evaluation import geometric_mean_ratio, naive_scales, pooled_ratio
from cartera_pipelines.defs.forecasting.panel import Panel
from cartera_pipelines.defs.forecasting.segments import segments
from cartera_pipelines.defs.forecasting.selection import choose, window_errors
from cartera_pipelines.defs.forecasting.statistical import MEAN_12
from cartera_pipelines.defs.forecasting.training import NotEnoughHistory, TrainingSettings, train
from cartera_pipelines.defs.forecasting.vetting import verdict
from cartera_pipelines_tests.defs.forecasting.synthetic import seasonal_demand

MONTHS = month_range(dt.date(2022, 1, 1), dt.date(2024, 12, 1))
FAST = TrainingSettings(n_jobs=1, xgboost_max_rows=20_000)


def panel_of(demand: np.ndarray, starts: dict[int, int] | None = None) -> Panel:
    demand = demand.astype(float).copy()
    for i, start in (starts or {}).items():
        demand[i, :start] = np.nan
    n = demand.shape[0]
    price = np.tile(np.linspace(10, 20, n)[:, None], (1, demand.shape[1]))
    price[np.isnan(demand)] = np.nan
    return Panel(
        "900",
        [f"A{i:03d}" for i in range(n)],
        [None] * n,
        MONTHS[: demand.shape[1]],
        demand,
        price,
        np.nan_to_num(demand * price),
    )


def intermittent(n: int, months: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 0.45, n)[:, None]
    size = 1 + rng.poisson(3, (n, months))
    return np.where(rng.random((n, months)) < p, size, 0).astype(float)


@pytest.fixture(scope="module")
def mixed_result():
    # 24 seasonal, 24 intermittent articles, article 10 new (8 months), article 11 with 14 months
    demand = np.vstack([seasonal_demand(24, 36, seed=3), intermittent(24, 36, seed=4)])
    return train(panel_of(demand, starts={10: 28, 11: 22}), FAST)


def test_no_future_data_reaches_the_choice_or_the_holdout(mixed_result):
    clean = mixed_result
    poisoned = clean.panel.demand.copy()
    poisoned[:, clean.windows.holdout :] = 1e6
    after = train(
        Panel(
            "900",
            clean.panel.articles,
            clean.panel.names,
            clean.panel.months,
            poisoned,
            clean.panel.price,
            clean.panel.sales_value,
        ),
        FAST,
    )
    for model, values in clean.holdout.items():
        np.testing.assert_allclose(after.holdout[model], values, equal_nan=True, err_msg=model)
    assert list(after.eval_chosen) == list(clean.eval_chosen)
    assert np.nanmin(after.scores["seasonal_naive"]["mae"]) > 1e5  # the poison is where it should be


def test_segments_and_new_articles(mixed_result):
    r = mixed_result
    assert r.segments[10] == "new" and r.chosen[10] == MEAN_12
    assert set(r.segments[:24]) - {"new"} <= {"smooth", "erratic"}
    assert set(r.segments[24:]) <= {"intermittent", "lumpy"}
    assert len(r.windows.cv) >= 3 and r.windows.cv[-1] + r.windows.horizon <= r.windows.holdout


@pytest.mark.parametrize(
    ("series", "segment"),
    [
        ([10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9], "smooth"),
        ([1, 30, 2, 25, 1, 40, 3, 1, 35, 2, 1, 50], "erratic"),
        ([0, 3, 0, 0, 3, 0, 0, 4, 0, 3, 0, 0], "intermittent"),
        ([0, 1, 0, 0, 30, 0, 0, 2, 0, 45, 0, 0], "lumpy"),
        ([5, 6, 7], "new"),
        ([0] * 12, "intermittent"),
    ],
)
def test_syntetos_boylan_segments(series, segment):
    row = np.full((1, 12), np.nan)
    row[0, 12 - len(series) :] = series
    assert segments(row)[0] == segment


def test_mase_scale_is_seasonal_only_with_24_months():
    long = np.arange(24.0)[None, :]
    assert naive_scales(long)[0][0] == pytest.approx(12.0)  # lag 12
    short = np.concatenate([[np.nan] * 11, [0.0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 99]])[None, :]
    assert naive_scales(short)[0][0] == pytest.approx(np.mean(np.abs(np.diff(short[0, 11:]))))  # lag 1
    flat = np.full((1, 30), 4.0)
    assert np.isnan(naive_scales(flat)[0][0])  # no scale: no MASE, never the raw MAE instead


def test_a_new_high_volume_article_does_not_flip_older_articles_choice():
    rng = np.random.default_rng(5)
    older = rng.uniform(0.5, 1.5, 60)
    mae = {MEAN_12: older, "xgboost": older * 0.7, "seasonal_naive": older * 0.9}
    rmse = {k: v * 1.2 for k, v in mae.items()}
    segments_ = np.array(["smooth"] * 60, dtype=object)
    before = choose(segments_, mae, rmse)
    # one more article, 10,000 times the volume, where seasonal naive wins by far (units, not scaled)
    big = {MEAN_12: 10_000.0, "xgboost": 9_000.0, "seasonal_naive": 100.0}
    after = choose(
        np.append(segments_, "smooth"),
        {k: np.append(v, big[k]) for k, v in mae.items()},
        {k: np.append(v, big[k]) for k, v in rmse.items()},
    )
    assert list(before) == ["xgboost"] * 60
    assert list(after[:60]) == list(before)


def _rows(
    article: str, segment: str, errors: dict[str, float], chosen: str, scale: float = 1.0
) -> list[dict]:
    return [
        {
            "article_code": article,
            "model": m,
            "segment": segment,
            "mae": e,
            "rmse": e,
            "rmsse": e / scale,
            "chosen": m == chosen,
        }
        for m, e in errors.items()
    ]


def test_one_thirteen_month_article_does_not_flip_a_nit_of_99():
    rows = []
    for a in range(99):
        rows += _rows(f"A{a}", "smooth", {"xgboost": 0.9, "seasonal_naive": 1.0, MEAN_12: 1.1}, "xgboost")
    assert verdict(rows).passed
    # 13 months: its seasonal "scale" would be one difference; here its ratio is as bad as it gets
    rows += _rows("NEW13", "smooth", {"xgboost": 500.0, "seasonal_naive": 0.01, MEAN_12: 3.0}, "xgboost")
    found = verdict(rows)
    assert found.passed and found.articles_compared == 100


def test_all_zeros_does_not_win_on_intermittent_articles():
    demand = intermittent(300, 42, seed=9)
    history, future = demand[:, :36], demand[:, 36:]
    mean12 = history[:, -12:].mean(axis=1, keepdims=True) * np.ones((1, 6))
    zeros = np.zeros_like(future)
    rmse = lambda p: np.sqrt(np.mean((future - p) ** 2, axis=1))  # noqa: E731
    mae = lambda p: np.mean(np.abs(future - p), axis=1)  # noqa: E731
    # per article, zeros "win" on MAE and even on RMSE (many 6-month windows are all zero)...
    assert geometric_mean_ratio(mae(zeros), mae(mean12)) < 1
    # ...pooled scaled squared errors (RMSSE) put them where they belong
    scale = naive_scales(history)[1]
    assert pooled_ratio(rmse(zeros) / scale, rmse(mean12) / scale) > 1
    rows = []
    for i in range(300):
        rows += _rows(
            f"I{i}",
            "intermittent",
            {
                "zeros": rmse(zeros)[i],
                "seasonal_naive": rmse(history[:, -12:-6])[i],
                MEAN_12: rmse(mean12)[i],
            },
            "zeros",
            scale=scale[i],
        )
    assert not verdict(rows).passed
    # and the choice judges sparse articles on squared errors over the CV months (3 origins x 6)
    cv_actual = history[:, 18:36]
    cv_mean = history[:, 6:18].mean(axis=1, keepdims=True) * np.ones((1, 18))
    errors_mae = {
        MEAN_12: np.mean(np.abs(cv_actual - cv_mean), axis=1),
        "croston_sba": cv_actual.mean(axis=1),
    }
    errors_rmse = {
        MEAN_12: np.sqrt(np.mean((cv_actual - cv_mean) ** 2, axis=1)),
        "croston_sba": np.sqrt(np.mean(cv_actual**2, axis=1)),
    }
    chosen = choose(np.array(["intermittent"] * 300, dtype=object), errors_mae, errors_rmse)
    assert (chosen == MEAN_12).mean() > 0.9


def test_window_errors_compare_models_on_the_same_months_only():
    actual = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    reference = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    partial = np.array([[[1.0, 2.0], [np.nan, np.nan]]])
    assert np.isnan(window_errors(actual, partial, reference)[0][0])
    assert window_errors(actual, actual, reference)[0][0] == 0


def test_bounds_cover_about_80_percent_of_smooth_holdout_months():
    rng = np.random.default_rng(21)
    t = np.arange(36)
    level = rng.uniform(5, 60, 150)[:, None]
    mean = level * (1 + 0.4 * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 6, 150)[:, None]))
    result = train(panel_of(rng.poisson(mean).astype(float)), FAST)
    coverage = result.aggregate["coverage"]
    assert 0.70 <= coverage <= 0.90, result.per_horizon["coverage"]
    assert (result.lower >= 0).all() and (result.lower <= result.forecast).all()
    assert (result.forecast <= result.upper).all()
    assert result.aggregate["relative_error_vs_seasonal_naive"] < 1


def test_forecast_rows_are_decimals_from_numpy_floats(mixed_result):
    rows = files.forecast_rows(mixed_result, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), None)
    assert all(isinstance(r["forecast_qty"], Decimal) and r["forecast_qty"].is_finite() for r in rows)
    assert files.quantity(np.float64(1.5)) == Decimal("1.5000")
    assert all(r["lower_qty"] <= r["forecast_qty"] <= r["upper_qty"] for r in rows)


def test_too_short_a_nit_is_refused():
    with pytest.raises(NotEnoughHistory, match="at least"):
        train(panel_of(seasonal_demand(3, 20, seed=1)), FAST)


def test_the_registered_model_forecasts_from_history_alone(mixed_result):
    """The pyfunc's logic carries its scalers and choices: known and unknown articles both get forecasts."""
    import pandas as pd

    from cartera_pipelines.defs.forecasting.pyfunc import forecaster_of

    model = forecaster_of(mixed_result)
    rows = [
        {"article_code": code, "month": month.isoformat(), "demand_qty": float(value)}
        for code, series in (("A000", mixed_result.panel.demand[0]), ("UNSEEN", np.arange(36.0) % 7))
        for month, value in zip(MONTHS, series, strict=True)
    ]
    out = model.predict(pd.DataFrame(rows))
    assert len(out) == 12 and set(out["article_code"]) == {"A000", "UNSEEN"}
    assert (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()
    known = out[out["article_code"] == "A000"]["forecast"].to_numpy()
    np.testing.assert_allclose(known, mixed_result.forecast[0], rtol=0.05, atol=1.0)


def test_the_registered_model_forecasts_with_the_harmonic_form_the_training_chose():
    """A sharp December peak: the training picks a free monthly shape, and the pyfunc forecasts with it."""
    import pandas as pd

    from cartera_pipelines.defs.forecasting.pyfunc import forecaster_of

    rng = np.random.default_rng(21)
    t = np.arange(36)
    level = rng.uniform(50, 200, (30, 1))
    # January 2022 – June 2024: the 6 forecast months end with a December
    demand = np.round(level * np.where(t % 12 == 11, 2.5, 1.0) * rng.lognormal(0, 0.05, (30, 36)))[:, :30]
    result = train(panel_of(demand), FAST)
    assert result.harmonic_pairs == 6
    model = forecaster_of(result)
    model.chosen = {code: "harmonic" for code in result.panel.articles}
    rows = [
        {"article_code": "A000", "month": month.isoformat(), "demand_qty": float(value)}
        for month, value in zip(MONTHS[:30], demand[0], strict=True)
    ]
    out = model.predict(pd.DataFrame(rows))["forecast"].to_numpy()
    assert out[-1] > 2 * out[0]  # December (the last horizon month) keeps its peak
