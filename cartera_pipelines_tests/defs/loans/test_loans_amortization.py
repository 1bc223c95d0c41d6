"""The amortization engine: exact cases, calendar edge cases, validation, and properties over all 9 combos."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cartera_pipelines.defs.loans.amortization import (
    due_dates,
    french_payment,
    schedule,
    schedule_cents,
    totals,
)
from cartera_pipelines.defs.loans.sql import copy_lines, installment_rows
from cartera_pipelines.defs.loans.terms import PERIODS_PER_YEAR, LoanTerms, Method, Modality, parse_terms

D = Decimal


def terms(principal: str, rate: str, n: int, modality: str, method: str, base: dt.date) -> LoanTerms:
    parsed = parse_terms(D(principal), D(rate), n, modality, method, base)
    assert isinstance(parsed, LoanTerms), parsed
    return parsed


def test_french_monthly_known_schedule() -> None:
    rows = schedule(terms("10000000.00", "24.00", 12, "MENSUAL", "FRANCESA", dt.date(2024, 1, 31)))
    assert [r.monto_cuota for r in rows[:-1]] == [D("945595.97")] * 11
    assert rows[0].monto_interes == D("200000.00")  # 10,000,000 × 24 / 1200
    assert rows[0].monto_capital == D("745595.97")
    assert rows[-1].monto_capital == rows[-1].saldo_capital_inicial == D("927054.82")
    assert rows[-1].monto_cuota == D("945595.92")  # the last one takes the remaining balance
    assert rows[-1].saldo_capital_final == D("0.00")


def test_half_cent_ties_round_up_from_the_exact_value() -> None:
    # 12,345.00 × 10 % / 12 = 102.875 exactly: half-up gives 102.88. A rate pre-divided to 28 digits
    # (0.008333…) gives 102.8749999… and rounds to 102.87.
    row = schedule(terms("12345.00", "10.00", 1, "MENSUAL", "AMERICANA", dt.date(2024, 1, 1)))[0]
    assert row.monto_interes == D("102.88")
    # 100.50 × 12 % / 12 = 1.005: a float would say 1.00
    assert schedule(terms("100.50", "12.00", 1, "MENSUAL", "ALEMANA", dt.date(2024, 1, 1)))[
        0
    ].monto_interes == D("1.01")


@pytest.mark.parametrize(
    ("principal", "rate", "n", "modality", "payment"),
    [
        ("1912.75", "24", 3, "MENSUAL", "663.26"),  # the case: 663.255 exactly
        ("401.00", "12", 2, "QUINCENAL", "202.01"),  # 202.005 exactly
        ("1602.00", "13", 2, "SEMANAL", "804.01"),  # 804.005 exactly
        ("15150.50", "24", 3, "QUINCENAL", "5151.51"),  # 5,151.505 exactly
        ("120601.00", "26", 3, "SEMANAL", "40603.01"),  # 40,603.005 exactly
    ],
)
def test_french_payment_ties_round_up_from_the_exact_rational_value(
    principal: str, rate: str, n: int, modality: str, payment: str
) -> None:
    exact = _exact_french(D(principal), D(rate), PERIODS_PER_YEAR[Modality(modality)], n)
    assert exact * 200 % 2 == 1  # a true half-cent tie
    assert french_payment(D(principal), D(rate), PERIODS_PER_YEAR[Modality(modality)], n) == D(payment)
    rows = schedule(terms(principal, rate, n, modality, "FRANCESA", dt.date(2024, 1, 15)))
    assert rows[0].monto_cuota == D(payment)


def _exact_french(principal: Decimal, rate: Decimal, ppy: int, n: int) -> Fraction:
    """P·r / (1 − (1+r)^−n) with fractions (an oracle independent of the engine's integer formula)."""
    r = Fraction(rate) / (100 * ppy)
    if r == 0:
        return Fraction(principal) / n
    return Fraction(principal) * r / (1 - (1 + r) ** -n)


def _half_up_cents(value: Fraction) -> Decimal:
    cents = value * 100
    return Decimal(int(cents) + (1 if cents - int(cents) >= Fraction(1, 2) else 0)).scaleb(-2)


@pytest.mark.parametrize("modality", list(Modality))
@settings(max_examples=60, deadline=None)
@given(
    percent=st.integers(min_value=1, max_value=99),
    n=st.integers(min_value=2, max_value=3),
    odd=st.integers(min_value=0, max_value=20).map(lambda k: 2 * k + 1),
)
def test_constructed_french_ties_round_up(modality: Modality, percent: int, n: int, odd: int) -> None:
    """For a rate and term, a principal of (an odd multiple of) half the payment factor's denominator in
    cents makes the exact payment end in half a cent: it must round up. (Whole-percent rates and short
    terms keep that principal within NUMERIC(15,2).)"""
    rate, ppy = Decimal(percent), PERIODS_PER_YEAR[modality]
    factor = _exact_french(Decimal(1), rate, ppy, n)  # payment per unit of principal
    assume(factor.denominator % 2 == 0 and factor.denominator // 2 * odd < 10**15)
    principal = Decimal(factor.denominator // 2 * odd).scaleb(-2)
    exact = _exact_french(principal, rate, ppy, n)
    assert (exact * 100).denominator == 2  # a tie, constructed
    assert (
        french_payment(principal, rate, ppy, n)
        == _half_up_cents(exact)
        == _half_up_cents(exact - Fraction(1, 1000)) + D("0.01")
    )


@pytest.mark.parametrize("modality", list(Modality))
@settings(max_examples=80, deadline=None)
@given(
    principal=st.integers(min_value=1, max_value=10**13).map(lambda cents: Decimal(cents).scaleb(-2)),
    rate=st.integers(min_value=0, max_value=9_999).map(lambda bp: Decimal(bp).scaleb(-2)),
    n=st.integers(min_value=1, max_value=120),
)
def test_french_payment_is_the_exact_value_rounded_half_up(
    modality: Modality, principal: Decimal, rate: Decimal, n: int
) -> None:
    ppy = PERIODS_PER_YEAR[modality]
    assert french_payment(principal, rate, ppy, n) == _half_up_cents(_exact_french(principal, rate, ppy, n))


def test_biweekly_and_weekly_use_their_own_periodic_rate() -> None:
    # The old generator applied the monthly rate to every modality.
    biweekly = schedule(terms("1200000.00", "24.00", 4, "QUINCENAL", "AMERICANA", dt.date(2024, 1, 1)))
    weekly = schedule(terms("5200000.00", "26.00", 4, "SEMANAL", "AMERICANA", dt.date(2024, 1, 1)))
    assert biweekly[0].monto_interes == D("12000.00")  # 1.2M × 24 / 2400
    assert weekly[0].monto_interes == D("26000.00")  # 5.2M × 26 / 5200


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (dt.date(2024, 1, 31), [dt.date(2024, 2, 29), dt.date(2024, 3, 31), dt.date(2024, 4, 30)]),
        (dt.date(2023, 1, 31), [dt.date(2023, 2, 28), dt.date(2023, 3, 31), dt.date(2023, 4, 30)]),
        (dt.date(2024, 2, 29), [dt.date(2024, 3, 29), dt.date(2024, 4, 29), dt.date(2024, 5, 29)]),
        (dt.date(2023, 12, 30), [dt.date(2024, 1, 30), dt.date(2024, 2, 29), dt.date(2024, 3, 30)]),
    ],
)
def test_monthly_due_dates_clamp_to_month_end_from_the_base_date(
    base: dt.date, expected: list[dt.date]
) -> None:
    assert list(due_dates(base, Modality.MENSUAL, 3)) == expected


def test_monthly_due_dates_across_leap_years() -> None:
    dates = due_dates(dt.date(2024, 2, 29), Modality.MENSUAL, 48)
    assert dates[11] == dt.date(2025, 2, 28)
    assert dates[12] == dt.date(2025, 3, 29)  # back to the base day, not drifting from the clamped 28th
    assert dates[47] == dt.date(2028, 2, 29)


def test_biweekly_and_weekly_due_dates() -> None:
    base = dt.date(2024, 2, 20)
    assert due_dates(base, Modality.QUINCENAL, 2) == (dt.date(2024, 3, 6), dt.date(2024, 3, 21))
    assert due_dates(base, Modality.SEMANAL, 2) == (dt.date(2024, 2, 27), dt.date(2024, 3, 5))


@pytest.mark.parametrize("method", list(Method))
def test_zero_rate(method: Method) -> None:
    rows = schedule(terms("100.00", "0", 3, "MENSUAL", method.value, dt.date(2024, 1, 15)))
    assert all(r.monto_interes == 0 for r in rows)
    assert sum(r.monto_capital for r in rows) == D("100.00")
    if method is Method.AMERICANA:
        assert [r.monto_capital for r in rows] == [D("0.00"), D("0.00"), D("100.00")]
    else:
        assert [r.monto_capital for r in rows] == [D("33.33"), D("33.33"), D("33.34")]


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("modality", list(Modality))
def test_one_installment(method: Method, modality: Modality) -> None:
    rows = schedule(terms("1000.00", "24.00", 1, modality.value, method.value, dt.date(2024, 1, 31)))
    ppy = PERIODS_PER_YEAR[modality]
    assert len(rows) == 1
    assert rows[0].monto_capital == D("1000.00")
    assert rows[0].monto_interes == (D("1000.00") * 24 / (100 * ppy)).quantize(
        D("0.01"), rounding="ROUND_HALF_UP"
    )
    assert rows[0].saldo_capital_final == 0


def test_tiny_principal_never_goes_negative() -> None:
    # round(0.20 / 8) = 0.03 and 7 × 0.03 > 0.20: capital is capped at the balance.
    rows = schedule(terms("0.20", "0", 8, "MENSUAL", "ALEMANA", dt.date(2024, 1, 1)))
    assert all(r.saldo_capital_final >= 0 for r in rows)
    assert sum(r.monto_capital for r in rows) == D("0.20")


def test_totals() -> None:
    rows = schedule(terms("1000.00", "12.00", 2, "MENSUAL", "ALEMANA", dt.date(2024, 1, 1)))
    summary = totals(rows)
    assert summary.total_capital == D("1000.00")
    assert summary.total_interest == D("10.00") + D("5.00")
    assert summary.total_paid == D("1015.00")
    assert (summary.first_due, summary.last_due) == (dt.date(2024, 2, 1), dt.date(2024, 3, 1))


# ---- properties over the nine method × modality combinations -------------------------------------------

money = st.integers(min_value=1, max_value=10**11).map(lambda cents: Decimal(cents).scaleb(-2))
rates = st.integers(min_value=0, max_value=9_999).map(lambda bp: Decimal(bp).scaleb(-2))
bases = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2080, 12, 31))


def _exact_interest(balance: Decimal, rate: Decimal, ppy: int) -> Decimal:
    exact = Fraction(balance) * Fraction(rate) / (100 * ppy)
    cents = exact * 100
    rounded = int(cents) + (1 if cents - int(cents) >= Fraction(1, 2) else 0)
    return Decimal(rounded).scaleb(-2)


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("modality", list(Modality))
@settings(max_examples=40, deadline=None)
@given(principal=money, rate=rates, n=st.integers(min_value=1, max_value=120), base=bases)
def test_schedule_properties(
    method: Method, modality: Modality, principal: Decimal, rate: Decimal, n: int, base: dt.date
) -> None:
    rows = schedule(LoanTerms(principal, rate, n, modality, method, base))
    ppy = PERIODS_PER_YEAR[modality]
    assert [r.numero_cuota for r in rows] == list(range(1, n + 1))
    assert sum(r.monto_capital for r in rows) == principal
    assert rows[0].saldo_capital_inicial == principal
    assert rows[-1].saldo_capital_final == 0
    for previous, current in zip(rows, rows[1:]):
        assert current.saldo_capital_inicial == previous.saldo_capital_final
        assert current.fecha_vencimiento > previous.fecha_vencimiento
    for r in rows:
        for amount in (
            r.monto_cuota,
            r.monto_capital,
            r.monto_interes,
            r.saldo_capital_inicial,
            r.saldo_capital_final,
        ):
            assert amount.as_tuple().exponent == -2 and amount >= 0
        assert r.monto_cuota == r.monto_capital + r.monto_interes
        assert r.saldo_capital_final == r.saldo_capital_inicial - r.monto_capital
        assert r.monto_interes == _exact_interest(r.saldo_capital_inicial, rate, ppy)
    assert rows[0].fecha_vencimiento > base
    if modality is Modality.MENSUAL:
        for k, r in enumerate(rows, start=1):
            assert (r.fecha_vencimiento.year * 12 + r.fecha_vencimiento.month) - (
                base.year * 12 + base.month
            ) == k
            assert (
                r.fecha_vencimiento.day == base.day
                or r.fecha_vencimiento.day < base.day
                and (r.fecha_vencimiento + dt.timedelta(days=1)).day == 1
            )
    else:
        step = 15 if modality is Modality.QUINCENAL else 7
        assert all(r.fecha_vencimiento == base + dt.timedelta(days=step * r.numero_cuota) for r in rows)
    capped = any(r.saldo_capital_final == 0 for r in rows[:-1])  # tiny principals: capital capped early
    if method is Method.AMERICANA:
        assert all(r.monto_capital == 0 for r in rows[:-1]) and rows[-1].monto_capital == principal
    elif method is Method.ALEMANA and not capped:
        fixed = (principal / n).quantize(D("0.01"), rounding="ROUND_HALF_UP")
        assert all(r.monto_capital == fixed for r in rows[:-1])
    elif method is Method.FRANCESA and not capped:
        payment = french_payment(principal, rate, ppy, n)
        assert all(r.monto_cuota == payment for r in rows[:-1])


AS_OF = dt.date(2026, 11, 21)


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("modality", list(Modality))
def test_copy_lines_match_the_decimal_rows(method: Method, modality: Modality) -> None:
    loan = terms(
        "123456.78",
        "0" if method is Method.AMERICANA else "27.35",
        7,
        modality.value,
        method.value,
        dt.date(2026, 8, 31),
    )
    cents = schedule_cents(loan)
    from_rows = [
        "\t".join(str(v) for v in row.values()) + "\n" for row in installment_rows(9, loan, cents, AS_OF)
    ]
    assert list(copy_lines(9, loan, cents, AS_OF)) == from_rows
    assert [row["monto_cuota"] for row in installment_rows(9, loan, cents, AS_OF)] == [
        i.monto_cuota for i in schedule(loan)
    ]


def test_copy_lines_write_midnight_in_bogota_into_a_timestamptz_column() -> None:
    loan = terms("1000.00", "12", 1, "MENSUAL", "FRANCESA", dt.date(2024, 1, 31))
    [line] = copy_lines(9, loan, schedule_cents(loan), AS_OF, with_zone=True)
    assert line.split("\t")[2] == "2024-02-29T00:00:00-05:00"
