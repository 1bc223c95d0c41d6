"""The amortization engine: exact cases, calendar edge cases, validation, and properties over all 9 combos."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartera_pipelines.defs.loans.amortization import due_dates, french_payment, schedule, totals
from cartera_pipelines.defs.loans.sql import copy_lines, installment_rows
from cartera_pipelines.defs.loans.status import Status, installment_status, unpaid_status
from cartera_pipelines.defs.loans.terms import (
    PERIODS_PER_YEAR,
    InvalidTerms,
    LoanTerms,
    Method,
    Modality,
    parse_terms,
)

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


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"principal": D("0")}, "principal must be > 0"),
        ({"principal": D("-5.00")}, "principal must be > 0"),
        ({"principal": 1000.0}, "is not a decimal amount"),
        ({"principal": D("10.005")}, "more than 2 decimals"),
        ({"rate": D("-0.01")}, "interest rate must be >= 0"),
        ({"rate": None}, "is not a decimal number"),
        ({"n": 0}, "must be > 0"),
        ({"n": -3}, "must be > 0"),
        ({"n": None}, "not an integer"),
        ({"modality": "MENSUALIDAD"}, "unknown payment modality 'MENSUALIDAD'"),
        ({"modality": None}, "unknown payment modality None"),
        ({"method": "ALEMAN"}, "unknown amortization method 'ALEMAN'"),
        ({"base": None}, "missing base date"),
        ({"base": "2024-01-01"}, "is not a date"),
        ({"base": dt.date(9999, 1, 1), "n": 24}, "past year 9999"),
    ],
)
def test_invalid_terms_are_values_not_exceptions(override: dict[str, object], fragment: str) -> None:
    raw = {
        "principal": D("1000.00"),
        "rate": D("12"),
        "n": 12,
        "modality": "MENSUAL",
        "method": "FRANCESA",
        "base": dt.date(2024, 1, 1),
    } | override
    parsed = parse_terms(raw["principal"], raw["rate"], raw["n"], raw["modality"], raw["method"], raw["base"])
    assert isinstance(parsed, InvalidTerms)
    assert any(fragment in p for p in parsed.problems), parsed.problems


def test_every_problem_is_reported_at_once() -> None:
    parsed = parse_terms(D("0"), D("-1"), 0, "X", "Y", None)
    assert isinstance(parsed, InvalidTerms)
    assert len(parsed.problems) == 6


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


# ---- installment status -----------------------------------------------------------------------------------


AS_OF = dt.date(2026, 11, 21)


@pytest.mark.parametrize(
    ("due", "capital_paid", "interest_paid", "expected"),
    [
        (dt.date(2026, 12, 1), "0", "0", Status.PENDIENTE),
        (dt.date(2026, 11, 21), "0", "0", Status.PENDIENTE),  # due today is not late yet
        (dt.date(2026, 11, 20), "0", "0", Status.ATRASADO),
        (dt.date(2026, 12, 1), "0", "5.00", Status.PARCIAL),
        (dt.date(2026, 11, 1), "50.00", "5.00", Status.ATRASADO),  # partly paid and overdue
        (dt.date(2026, 11, 1), "100.00", "10.00", Status.PAGADO),
        (dt.date(2026, 12, 1), "100.00", "10.00", Status.PAGADO),
        (dt.date(2026, 12, 1), "100.00", "9.99", Status.PARCIAL),
    ],
)
def test_installment_status(due: dt.date, capital_paid: str, interest_paid: str, expected: Status) -> None:
    assert (
        installment_status(due, D("100.00"), D("10.00"), D(capital_paid), D(interest_paid), AS_OF) is expected
    )


@settings(max_examples=100, deadline=None)
@given(due=bases, capital=money | st.just(D("0.00")), interest=money | st.just(D("0.00")))
def test_unpaid_status_is_installment_status_with_nothing_paid(
    due: dt.date, capital: Decimal, interest: Decimal
) -> None:
    zero = D("0.00")
    assert unpaid_status(due, capital == 0 and interest == 0, AS_OF) is installment_status(
        due, capital, interest, zero, zero, AS_OF
    )


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
    from_rows = [
        "\t".join(str(v) for v in row.values()) + "\n" for row in installment_rows(9, schedule(loan), AS_OF)
    ]
    assert list(copy_lines(9, loan, AS_OF)) == from_rows
