"""Monthly demand: returns subtracted, zero months present, other documents ignored, features."""

import datetime as dt
from decimal import Decimal

import pytest

from cartera_pipelines.defs.forecasting.demand import MovementGroup, add_months, month_range, monthly_demand


def g(article, year, month, doc, qty, value, warehouse="01", name=None):
    return MovementGroup(article, name, year, month, doc, warehouse, Decimal(qty), Decimal(value))


def test_returns_are_subtracted_and_missing_months_are_zero_rows():
    groups = [
        g("A", 2024, 1, "FACTURA_VENTA", "10", "100", name="Tornillo"),
        g("A", 2024, 1, "DEVOLUCION_VENTA", "3", "30"),
        g("A", 2024, 4, "FACTURA_VENTA", "5", "60"),
        g("B", 2024, 2, "FACTURA_VENTA", "2", "20"),
    ]
    rows = list(monthly_demand("900", groups))
    a = [r for r in rows if r["article_code"] == "A"]
    assert [r["month"] for r in a] == month_range(dt.date(2024, 1, 1), dt.date(2024, 4, 1))
    assert [r["demand_qty"] for r in a] == [Decimal("7"), 0, 0, Decimal("5")]
    assert [r["zero_filled"] for r in a] == [False, True, True, False]
    assert a[0]["returns_qty"] == Decimal("3") and a[0]["returns_value"] == Decimal("30.00")
    assert a[0]["article_name"] == "Tornillo"
    # price carried forward through the zero months, then the new month's price
    assert [r["avg_unit_price"] for r in a] == [Decimal("10"), Decimal("10"), Decimal("10"), Decimal("12")]
    # B starts at its first month and runs to the NIT's last month
    b = [r for r in rows if r["article_code"] == "B"]
    assert [r["month"] for r in b] == [dt.date(2024, 2, 1), dt.date(2024, 3, 1), dt.date(2024, 4, 1)]


def test_other_documents_are_ignored_and_net_negative_months_are_kept():
    groups = [
        g("A", 2024, 1, "FACTURA_COMPRA", "500", "5000"),
        g("A", 2024, 1, "FACTURA_VENTA", "1", "10"),
        g("A", 2024, 2, "DEVOLUCION_VENTA", "4", "40"),
        g("A", 2024, 3, "REMISION_ENTRADA", "9", "0"),
    ]
    rows = list(monthly_demand("900", groups))
    assert [r["demand_qty"] for r in rows] == [Decimal("1"), Decimal("-4")]


def test_months_of_different_years_pool_into_one_series():
    """Company-years of one NIT are separate databases; their groups form one continuous series."""
    groups = [g("A", 2023, 12, "FACTURA_VENTA", "4", "40"), g("A", 2024, 2, "FACTURA_VENTA", "6", "60")]
    rows = list(monthly_demand("900", groups))
    assert [(r["month"], r["demand_qty"]) for r in rows] == [
        (dt.date(2023, 12, 1), Decimal("4")),
        (dt.date(2024, 1, 1), Decimal("0")),
        (dt.date(2024, 2, 1), Decimal("6")),
    ]


def test_last_month_cuts_the_month_in_progress():
    groups = [g("A", 2024, 1, "FACTURA_VENTA", "4", "40"), g("A", 2024, 2, "FACTURA_VENTA", "6", "60")]
    rows = list(monthly_demand("900", groups, last_month=dt.date(2024, 1, 1)))
    assert [r["month"] for r in rows] == [dt.date(2024, 1, 1)]


def test_warehouse_features():
    groups = [
        g("A", 2024, 1, "FACTURA_VENTA", "4", "40", warehouse="02"),
        g("A", 2024, 1, "FACTURA_VENTA", "9", "90", warehouse="01"),
        g("A", 2024, 3, "FACTURA_VENTA", "1", "10", warehouse="02"),
    ]
    rows = list(monthly_demand("900", groups))
    assert [r["warehouse_count"] for r in rows] == [2, 0, 1]
    assert [r["main_warehouse_code"] for r in rows] == ["01", "01", "02"]


def test_no_movements_no_rows():
    assert list(monthly_demand("900", [])) == []


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [((2024, 11), 3, (2025, 2)), ((2024, 1), -1, (2023, 12)), ((2024, 5), 0, (2024, 5))],
)
def test_add_months(start, months, expected):
    assert add_months(dt.date(*start, 1), months) == dt.date(*expected, 1)
