"""Pricing against hand-computed cases and an integer-arithmetic oracle."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.factoring import pricing

D = Decimal


def test_latest_due_date_sets_the_days() -> None:
    # Two invoices due in 10 and 40 days: 40 days are financed.
    op = dt.date(2026, 3, 1)
    p = pricing.price(
        D("1000000.00"), D("24.00"), op, [op + dt.timedelta(days=10), op + dt.timedelta(days=40)]
    )
    # 1,000,000 × 0.24 × 40 / 360 = 26,666.666… → 26,666.67
    assert p == pricing.Pricing(40, D("26666.67"), D("973333.33"))


@pytest.mark.parametrize(
    "total, tasa, dias, descuento",
    [
        ("1000000.00", "24.00", 40, "26666.67"),
        ("1000000.00", "24.00", 10, "6666.67"),
        ("1000000.00", "18.00", 360, "180000.00"),  # a full 360-day year
        ("1000000.00", "18.00", 365, "182500.00"),  # 365 days are more than a commercial year
        ("45.00", "4.00", 1, "0.01"),  # exactly 0.005: half-up, not to even
        ("15.00", "12.00", 1, "0.01"),  # exactly 0.005 again
        ("14.99", "12.00", 1, "0.00"),  # 0.004996…
        (
            "2537814.37",
            "21.50",
            63,
            "95485.27",
        ),  # 2,537,814.37 × 0.215 = 545,630.08955; × 63 / 360 = 95,485.2657…
        ("0.00", "20.00", 30, "0.00"),
    ],
)
def test_hand_computed_discounts(total: str, tasa: str, dias: int, descuento: str) -> None:
    assert pricing.discount(D(total), D(tasa), dias) == D(descuento)


def test_payout_is_total_minus_discount() -> None:
    op = dt.date(2026, 1, 15)
    p = pricing.price(D("2537814.37"), D("21.50"), op, [op + dt.timedelta(days=63)])
    assert p.monto_a_desembolsar == D("2537814.37") - D("95485.27") == D("2442329.10")


@pytest.mark.parametrize(
    "total, tasa, due, message",
    [
        ("100.00", "10", [], "at least one invoice"),
        ("100.00", "10", [dt.date(2026, 3, 1)], "días = 0"),
        ("100.00", "10", [dt.date(2026, 2, 1)], "días = -28"),
        ("-1.00", "10", [dt.date(2026, 4, 1)], "must not be negative"),
        ("100.00", "-1", [dt.date(2026, 4, 1)], "must not be negative"),
    ],
)
def test_terms_that_cannot_be_priced(total: str, tasa: str, due: list[dt.date], message: str) -> None:
    with pytest.raises(pricing.PricingError, match=message):
        pricing.price(D(total), D(tasa), dt.date(2026, 3, 1), due)


def _oracle(cents: int, tasa_bp: int, dias: int) -> int:
    """Discount in cents with exact fractions and half-up rounding (no Decimal involved)."""
    exact = Fraction(cents * tasa_bp * dias, 100 * 100 * 360)
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))


@given(
    st.integers(min_value=0, max_value=10**13),
    st.integers(min_value=0, max_value=9999),
    st.integers(min_value=1, max_value=3650),
)
def test_matches_an_exact_fraction_oracle(cents: int, tasa_bp: int, dias: int) -> None:
    total = D(cents).scaleb(-2)
    tasa = D(tasa_bp).scaleb(-2)
    got = pricing.discount(total, tasa, dias)
    assert got == D(_oracle(cents, tasa_bp, dias)).scaleb(-2)
    p = pricing.price(total, tasa, dt.date(2026, 1, 1), [dt.date(2026, 1, 1) + dt.timedelta(days=dias)])
    assert p.monto_descuento + p.monto_a_desembolsar == total


def test_reconcile_names_what_differs() -> None:
    op = dt.date(2026, 3, 1)
    ok = {
        "monto_total": D("1000000.00"),
        "tasa_descuento": D("24.00"),
        "fecha_operacion": op,
        "latest_due_date": op + dt.timedelta(days=40),
        "invoices_total": D("1000000.00"),
        "stored_discount": D("26666.67"),
        "stored_payout": D("973333.33"),
    }
    assert pricing.reconcile(**ok) is None
    # A legacy procedure with a 365-day year.
    legacy = ok | {"stored_discount": D("26301.37"), "stored_payout": D("973698.63")}
    assert pricing.reconcile(**legacy) == (
        "descuento 26301.37 vs 26666.67; desembolso 973698.63 vs 973333.33 (40 días)"
    )
    assert "total 1000000.00 vs facturas 999999.99" in pricing.reconcile(
        **ok | {"invoices_total": D("999999.99")}
    )
    assert "at least one invoice" in pricing.reconcile(**ok | {"latest_due_date": None})
