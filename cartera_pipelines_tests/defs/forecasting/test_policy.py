"""The inventory policy: ABC/XYZ (N for new articles), σ from the bounds, protection period, orders."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.forecasting.policy import (
    PolicySettings,
    abc_classes,
    coefficient_of_variation,
    lead_time_demand,
    protection_sigma,
    reorder_point,
    safety_stock,
    sigma_from_bounds,
    xyz_class,
)
from cartera_pipelines.defs.forecasting.recommend import recommendations


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


def test_new_articles_are_class_n_not_stable():
    assert xyz_class(coefficient_of_variation([10, 10, 10]), months=3) == "N"
    assert xyz_class(coefficient_of_variation([10] * 12), months=12) == "X"


def test_sigma_is_the_one_the_bounds_were_built_with():
    # 80 % band: upper = forecast + 1.281552 sigma
    assert sigma_from_bounds(Decimal("100"), Decimal("112.81552")) == Decimal("10.0000")
    # over 2 months of equal sigma: sqrt(2) sigma; a fractional month counts pro rata
    assert protection_sigma([Decimal("10"), Decimal("10")], 2) == Decimal("14.1421")
    assert protection_sigma([Decimal("10"), Decimal("10")], 1.5) == Decimal("12.2474")


def test_recommendations_cover_lead_time_plus_review_period():
    forecasts = [
        {
            "article_code": "A",
            "horizon": h,
            "month": dt.date(2025, h, 1),
            "forecast_qty": Decimal("100"),
            "lower_qty": Decimal("87.1845"),
            "upper_qty": Decimal("112.8155"),
            "model": "harmonic",
            "segment": "smooth",
        }
        for h in range(1, 7)
    ]
    history = [
        {
            "article_code": "A",
            "demand_qty": Decimal(100),
            "sales_value": Decimal(1000),
            "returns_value": Decimal(0),
            "article_name": "a",
        }
        for _ in range(5)
    ]
    settings = PolicySettings(service_level=0.95, lead_time_months=1, review_period_months=1)
    (row,) = recommendations(
        "900", history, forecasts, settings, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.date(2025, 1, 1)
    )
    assert row["xyz_class"] == "N"  # five months of history
    assert row["lead_time_demand"] == Decimal("200.0000")  # lead time + review period
    assert row["order_qty"] == Decimal("100.0000")  # one review period
    # z(0.95) x sqrt(2) x sigma(10) = 23.2617; not inflated by z twice
    assert row["safety_stock"] == Decimal("23.2617")
    assert row["reorder_point"] == row["lead_time_demand"] + row["safety_stock"]
    assert row["as_of"] == dt.date(2025, 1, 1) and row["review_period_months"] == Decimal("1.00")
