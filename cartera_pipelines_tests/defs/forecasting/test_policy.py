"""Evaluation metrics, the seasonal-naive baseline and the inventory policy."""

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.forecasting.baseline import seasonal_naive
from cartera_pipelines.defs.forecasting.evaluation import aggregate_mase, mae, mase, mase_scale, rmse
from cartera_pipelines.defs.forecasting.policy import (
    PolicySettings,
    abc_classes,
    coefficient_of_variation,
    lead_time_demand,
    reorder_point,
    safety_stock,
    xyz_class,
)
from cartera_pipelines.defs.forecasting.selection import choose_models


def test_metrics():
    actual, predicted = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0])
    assert mae(actual, predicted) == pytest.approx(1.0)
    assert rmse(actual, predicted) == pytest.approx(np.sqrt(5 / 3))
    assert mase(actual, predicted, 2.0) == pytest.approx(0.5)
    assert np.isnan(mase(actual, predicted, float("nan")))


def test_mase_scale_is_the_in_sample_seasonal_naive_error():
    history = np.concatenate([[np.nan, np.nan], np.arange(24.0)])
    assert mase_scale(history) == pytest.approx(12.0)  # y[t] - y[t-12] = 12 everywhere
    assert mase_scale(np.array([1.0, 3.0, 6.0])) == pytest.approx(2.5)  # short: one-step naive
    assert np.isnan(mase_scale(np.tile([1.0, 2.0, 3.0], 8)[:24] * 0 + 5))  # constant: undefined
    assert aggregate_mase(np.array([1.0, np.nan, 3.0])) == pytest.approx(2.0)


def test_seasonal_naive_repeats_last_year():
    history = np.concatenate([[np.nan], np.arange(1.0, 25.0)])
    assert list(seasonal_naive(history, 6)) == [13.0, 14.0, 15.0, 16.0, 17.0, 18.0]
    assert list(seasonal_naive(np.array([np.nan, 4.0, 7.0]), 3)) == [7.0, 7.0, 7.0]
    assert list(seasonal_naive(np.array([np.nan]), 2)) == [0.0, 0.0]


def test_selection_on_own_evidence_takes_the_lowest_error_and_prefers_simpler_on_ties():
    chosen = choose_models(
        {
            "seasonal_naive": np.array([3.0, 1.0, 2.0, np.nan]),
            "xgboost": np.array([2.0, 1.0, 2.5, np.nan]),
            "prophet": np.array([1.0, 1.0, np.nan, np.nan]),
        },
        own_weight=1.0,
    )
    assert chosen == ["prophet", "seasonal_naive", "seasonal_naive", "xgboost"]


def test_selection_shrinks_towards_the_overall_best_model():
    scores = {"seasonal_naive": np.array([1.0, 1.0, 1.0, 0.9]), "xgboost": np.array([0.5, 0.5, 0.5, 1.0])}
    assert choose_models(scores, own_weight=1.0)[3] == "seasonal_naive"
    # article 3 is only slightly better with naive; overall xgboost wins by far
    assert choose_models(scores, own_weight=0.25) == ["xgboost"] * 4


def test_abc_by_cumulative_value():
    assert abc_classes([50, 30, 12, 5, 3, 0]) == ["A", "A", "B", "B", "C", "C"]
    assert abc_classes([0, 0]) == ["C", "C"]


@pytest.mark.parametrize(
    ("demand", "cls"),
    [([10, 10, 10], "X"), ([5, 15, 10], "X"), ([0, 20, 10], "Y"), ([0, 0, 30], "Z"), ([0, 0], "Z")],
)
def test_xyz_by_coefficient_of_variation(demand, cls):
    assert xyz_class(coefficient_of_variation(demand)) == cls


def test_lead_time_demand_prorates_a_fractional_month():
    forecast = [Decimal("10"), Decimal("20"), Decimal("30")]
    assert lead_time_demand(forecast, 1.5) == Decimal("20.0000")
    assert lead_time_demand(forecast, 4) == Decimal("90.0000")  # beyond the horizon the last month repeats


def test_safety_stock_known_value():
    # z(0.95) = 1.644854; sigma 10; lead time 4 months -> 1.644854 * 10 * 2
    assert safety_stock(Decimal("10"), 0.95, 4) == Decimal("32.8971")


def test_policy_settings_are_validated():
    with pytest.raises(ValueError, match="service_level"):
        PolicySettings(service_level=1.0)
    with pytest.raises(ValueError, match="lead_time"):
        PolicySettings(lead_time_months=0)


@given(
    std=st.decimals(min_value=0, max_value=10_000, places=4),
    low=st.floats(min_value=0.5, max_value=0.98),
    lead=st.floats(min_value=0.1, max_value=12),
    forecast=st.lists(st.decimals(min_value=0, max_value=10_000, places=4), min_size=1, max_size=6),
)
def test_reorder_point_properties(std, low, lead, forecast):
    high = min(low + 0.01, 0.999)
    lead_demand = lead_time_demand(forecast, lead)
    safety_low, safety_high = safety_stock(std, low, lead), safety_stock(std, high, lead)
    assert Decimal(0) <= safety_low <= safety_high
    point = reorder_point(lead_demand, safety_low)
    assert point == lead_demand + safety_low >= lead_demand >= 0
