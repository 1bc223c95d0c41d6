"""The reorder policy (pure): safety stock, reorder point, order quantity and urgency ranking."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.contifico.analytics.reorder import (
    Policy,
    at_risk,
    daily_sigma,
    suggest,
    suggestions,
)

POLICY = Policy(service_level=0.95, target_coverage_days=30, default_lead_time_days=7)


def _row(product="P", warehouse="*", stock="10", velocity="1", total="90", squares="90", lead="5", share="1"):
    return {
        "product_id": product,
        "warehouse_id": warehouse,
        "stock": Decimal(stock),
        "unit_cost": Decimal("2.50"),
        "velocity_90": Decimal(velocity),
        "share": Decimal(share),
        "demand_total": Decimal(total),
        "demand_squares": Decimal(squares),
        "lead_time_days": None if lead is None else Decimal(lead),
    }


def test_steady_demand_has_no_safety_stock_and_orders_to_the_target() -> None:
    # one unit every day: σ = 0; reorder point = 1 × 5; order = 1 × (5 + 30) − 4 = 31
    item = suggest(_row(stock="4"), POLICY)
    assert item["safety_stock"] == 0 and item["reorder_point"] == Decimal(5)
    assert item["suggested_quantity"] == Decimal(31) and item["suggested_value"] == Decimal("77.50")
    assert item["days_to_stockout"] == Decimal(4) and item["slack_days"] == Decimal(-1)


def test_no_measured_lead_time_uses_the_default() -> None:
    item = suggest(_row(lead=None), POLICY)
    assert item["lead_time_days"] == Decimal(7) and item["lead_time_source"] == "default"


def test_a_product_that_does_not_sell_is_never_ordered() -> None:
    item = suggest(_row(stock="0", velocity="0", total="0", squares="0"), POLICY)
    assert item["suggested_quantity"] == 0 and item["days_to_stockout"] is None


def test_ranks_are_per_warehouse_most_urgent_first() -> None:
    rows = [
        _row("A", "*", stock="4"),
        _row("B", "*", stock="1"),
        _row("C", "*", stock="100"),
        _row("A", "W1", stock="2"),
    ]
    result = {(r["product_id"], r["warehouse_id"]): r["urgency_rank"] for r in suggestions(rows, POLICY)}
    assert result == {("B", "*"): 1, ("A", "*"): 2, ("C", "*"): None, ("A", "W1"): 1}
    assert [r["product_id"] for r in at_risk(suggestions(rows, POLICY), "*", 5)] == ["B", "A"]


@given(
    days=st.lists(st.integers(min_value=-5, max_value=50), min_size=90, max_size=90),
    stock=st.decimals(min_value=-10, max_value=1000, places=2),
    lead=st.integers(min_value=0, max_value=60),
)
def test_invariants(days: list[int], stock: Decimal, lead: int) -> None:
    total, squares = Decimal(sum(days)), Decimal(sum(d * d for d in days))
    velocity = max(total, Decimal(0)) / 90
    item = suggest(
        _row(
            stock=str(stock), velocity=str(velocity), total=str(total), squares=str(squares), lead=str(lead)
        ),
        POLICY,
    )
    assert daily_sigma(total, squares) >= 0
    assert item["safety_stock"] >= 0 and item["suggested_quantity"] >= 0
    assert item["reorder_point"] >= (velocity * lead).quantize(Decimal("0.000001")) - Decimal("0.000001")
    if item["suggested_quantity"] > 0:
        # the order leaves at least the target coverage plus safety when it arrives
        arrives_with = stock - velocity * lead + item["suggested_quantity"]
        assert arrives_with >= velocity * 30 + item["safety_stock"] - Decimal("0.000001")
    else:
        assert velocity == 0 or stock > item["reorder_point"] or stock - velocity * lead >= velocity * 30
