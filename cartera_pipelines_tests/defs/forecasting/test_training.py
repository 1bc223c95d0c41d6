"""Training on synthetic seasonal panels: no future data in any window, the baseline is beaten, bounds."""

import datetime as dt

import numpy as np
import pytest

from cartera_pipelines.defs.forecasting.demand import month_range
from cartera_pipelines.defs.forecasting.panel import Panel
from cartera_pipelines.defs.forecasting.training import NotEnoughHistory, TrainingSettings, train
from cartera_pipelines_tests.defs.forecasting.synthetic import seasonal_demand

MONTHS = month_range(dt.date(2022, 1, 1), dt.date(2024, 12, 1))


def panel_of(demand: np.ndarray, starts: dict[int, int] | None = None) -> Panel:
    demand = demand.astype(float).copy()
    for i, start in (starts or {}).items():
        demand[i, :start] = np.nan
    n = demand.shape[0]
    price = np.tile(np.linspace(10, 20, n)[:, None], (1, demand.shape[1]))
    price[np.isnan(demand)] = np.nan
    return Panel(
        "900",
        [f"A{i:02d}" for i in range(n)],
        [None] * n,
        MONTHS[: demand.shape[1]],
        demand,
        price,
        np.nan_to_num(demand * price),
    )


FAST = TrainingSettings(n_jobs=1)


@pytest.fixture(scope="module")
def seasonal_result():
    # article 7 is new (14 months of history: no Prophet); the rest have 36 months.
    return train(panel_of(seasonal_demand(10, 36, seed=3), starts={7: 22}), FAST)


def test_no_future_data_reaches_any_window(seasonal_result):
    """Poison every month from the holdout on: holdout predictions of every model must not move.
    Poison from the validation window on: validation predictions must not move either."""
    clean = seasonal_result
    demand = clean.panel.demand.copy()
    holdout_cut, validation_cut = clean.holdout.cutoff, clean.validation.cutoff
    poisoned = demand.copy()
    poisoned[:, holdout_cut:] = 1e6
    after = train(panel_of(np.nan_to_num(poisoned), starts={7: 22}), FAST)
    for model in ("seasonal_naive", "xgboost", "prophet", "ensemble"):
        np.testing.assert_allclose(
            after.holdout.by_model[model], clean.holdout.by_model[model], equal_nan=True, err_msg=model
        )
        np.testing.assert_allclose(
            after.validation.by_model[model], clean.validation.by_model[model], equal_nan=True, err_msg=model
        )
    assert after.chosen == clean.chosen  # the choice only looks at the validation window
    # and the poison is visible where it should be: the holdout scores explode
    assert np.nanmin(after.scores["seasonal_naive"]["mae"]) > 1e5

    poisoned = demand.copy()
    poisoned[:, validation_cut:] = 1e6
    early = train(panel_of(np.nan_to_num(poisoned), starts={7: 22}), FAST)
    for model in ("seasonal_naive", "xgboost", "prophet", "ensemble"):
        np.testing.assert_allclose(
            early.validation.by_model[model], clean.validation.by_model[model], equal_nan=True, err_msg=model
        )


def test_chosen_models_beat_seasonal_naive_on_seasonal_data(seasonal_result):
    aggregate = seasonal_result.aggregate()
    assert aggregate["mase_chosen"] < aggregate["mase_seasonal_naive"], aggregate
    assert seasonal_result.counts["prophet_eligible"] == 9
    assert np.isnan(seasonal_result.holdout.by_model["prophet"][7]).all()  # too short for Prophet
    assert seasonal_result.chosen[7] not in ("prophet", "ensemble")


def test_forecasts_are_non_negative_and_inside_their_bounds(seasonal_result):
    r = seasonal_result
    assert r.forecast.shape == (10, 6)
    assert (r.lower >= 0).all() and (r.lower <= r.forecast).all() and (r.forecast <= r.upper).all()
    assert (r.upper > r.lower).any()


def test_forecasts_clip_a_falling_series_at_zero():
    demand = np.tile(np.linspace(60, 0, 36), (3, 1))
    result = train(panel_of(demand), FAST)
    assert (result.forecast >= 0).all() and (result.lower >= 0).all()


def test_too_short_history_is_a_clear_error():
    with pytest.raises(NotEnoughHistory, match="at least 14"):
        train(panel_of(seasonal_demand(2, 10)), FAST)


def test_parallel_fits_match_sequential_ones():
    """The process pool (2 spawned workers) gives the same Prophet fits as in-process fitting."""
    panel = panel_of(seasonal_demand(9, 30, seed=5))
    settings = TrainingSettings(n_jobs=2)
    parallel = train(panel, settings)
    sequential = train(panel, TrainingSettings(n_jobs=1))
    np.testing.assert_allclose(
        parallel.holdout.by_model["prophet"],
        sequential.holdout.by_model["prophet"],
        rtol=1e-6,
        equal_nan=True,
    )
    assert parallel.prophet_errors == []
