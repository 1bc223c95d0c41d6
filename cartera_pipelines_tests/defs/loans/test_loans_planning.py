"""Reconciliation of a loan's stored schedule against the engine, and the refusal of amounts that do not fit."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartera_pipelines.defs.loans.amortization import due_dates, schedule, schedule_cents
from cartera_pipelines.defs.loans.planning import (
    Action,
    ColumnLimit,
    Existing,
    LoanRow,
    StoredInstallment,
    decide,
    overflow,
)
from cartera_pipelines.defs.loans.terms import LoanTerms, Method, Modality

D = Decimal
NUMERIC_15_2 = {
    name: ColumnLimit("NUMERIC(15,2)", 10**15)
    for name in (
        "monto_cuota",
        "monto_capital",
        "monto_interes",
        "saldo_capital_inicial",
        "saldo_capital_final",
        "capital_pendiente",
        "interes_pendiente",
    )
}
BIWEEKLY = LoanTerms(D("1200000.00"), D("24"), 6, Modality.QUINCENAL, Method.FRANCESA, dt.date(2024, 1, 15))


def _row(terms: LoanTerms, loan_id: int = 1) -> LoanRow:
    return LoanRow(
        loan_id,
        terms.principal,
        terms.installments,
        terms.annual_rate,
        terms.modality.value,
        terms.method.value,
        terms.base_date,
    )


def _stored(terms: LoanTerms, dates_of: LoanTerms | None = None) -> tuple[StoredInstallment, ...]:
    """``terms``' schedule as stored (amounts in cents), with the due dates of ``dates_of``."""
    dated = dates_of or terms
    dates = due_dates(dated.base_date, dated.modality, dated.installments)
    return tuple(
        StoredInstallment(i.numero_cuota, dates[i.numero_cuota - 1], *(int(a * 100) for a in tuple(i)[2:]))
        for i in schedule(terms)
    )


def test_the_engines_own_schedule_is_kept() -> None:
    assert decide(_row(BIWEEKLY), Existing(_stored(BIWEEKLY)), NUMERIC_15_2).action is Action.KEEP


def test_the_old_generators_biweekly_schedule_is_regenerated_with_the_difference() -> None:
    """Right count and dates, but the monthly rate applied to a biweekly loan: interest doubled."""
    monthly_rate = dataclasses.replace(BIWEEKLY, modality=Modality.MENSUAL)
    stale = _stored(monthly_rate, dates_of=BIWEEKLY)
    decision = decide(_row(BIWEEKLY), Existing(stale), NUMERIC_15_2)
    assert decision.action is Action.REGENERATE
    assert decision.rows == schedule_cents(BIWEEKLY)
    [why] = decision.problems
    assert why.startswith("installment 1: monto_cuota ")
    assert "monto_interes 24,000.00 stored, 12,000.00 expected" in why
    paid = decide(_row(BIWEEKLY), Existing(stale, has_payments=True), NUMERIC_15_2)
    assert paid.action is Action.BLOCKED and paid.problems[0].startswith("payments recorded: installment 1:")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda rows: rows[:3], "3 installments stored, 6 expected"),
        (lambda rows: rows + rows[-1:], "7 installments stored, 6 expected"),
        (lambda rows: (rows[0]._replace(fecha_vencimiento=dt.date(2024, 2, 1)), *rows[1:]), "installment 1: due 2024-02-01 stored, 2024-01-30 expected"),
        (lambda rows: (*rows[:5], rows[5]._replace(saldo_capital_final=1)), "installment 6: saldo_capital_final 0.01 stored, 0.00 expected"),
        (lambda rows: (rows[1], rows[0], *rows[2:]), "installment numbers are not 1..6 (found 2 in place 1)"),
        (lambda rows: (rows[0]._replace(monto_interes=None), *rows[1:]), "monto_interes unreadable stored, 12,000.00 expected"),
    ],
)  # fmt: skip
def test_every_kind_of_difference_is_named(change: object, fragment: str) -> None:
    stored = change(_stored(BIWEEKLY))  # type: ignore[operator]
    decision = decide(_row(BIWEEKLY), Existing(tuple(stored)), NUMERIC_15_2)
    assert decision.action is Action.REGENERATE
    assert fragment in decision.problems[0], decision.problems


def test_a_requested_regeneration_replaces_even_a_right_schedule_but_never_a_paid_one() -> None:
    right = Existing(_stored(BIWEEKLY))
    forced = decide(_row(BIWEEKLY), right, NUMERIC_15_2, force=True)
    assert forced.action is Action.REGENERATE and forced.problems == ("regenerated on request",)
    assert (
        decide(_row(BIWEEKLY), dataclasses.replace(right, has_payments=True), force=True).action
        is Action.BLOCKED
    )
    assert decide(_row(BIWEEKLY), Existing(), force=True).action is Action.CREATE


def test_a_schedule_that_does_not_fit_the_columns_is_refused() -> None:
    huge = LoanTerms(
        D("9999999999999.99"), D("24"), 3, Modality.MENSUAL, Method.AMERICANA, dt.date(2024, 1, 15)
    )
    decision = decide(_row(huge), Existing(), NUMERIC_15_2)
    assert decision.action is Action.INVALID
    assert decision.problems == (
        "installment 3: monto_cuota 10,199,999,999,999.99 does not fit cuotas.monto_cuota NUMERIC(15,2): "
        "schedule refused",
    )
    assert decide(_row(huge), Existing(), {}).action is Action.CREATE  # an unbounded column (NUMERIC)


@settings(max_examples=100, deadline=None)
@given(
    principal_cents=st.integers(min_value=1, max_value=10**15 - 1),
    rate_bp=st.integers(min_value=0, max_value=9_999),
    n=st.integers(min_value=1, max_value=60),
    method=st.sampled_from(list(Method)),
)
def test_overflow_is_exactly_the_amounts_beyond_the_column(
    principal_cents: int, rate_bp: int, n: int, method: Method
) -> None:
    terms = LoanTerms(
        Decimal(principal_cents).scaleb(-2),
        Decimal(rate_bp).scaleb(-2),
        n,
        Modality.MENSUAL,
        method,
        dt.date(2024, 1, 1),
    )
    rows = schedule_cents(terms)
    amounts = [a for c, i, b in rows for a in (c + i, c, i, b, b - c)]
    assert (overflow(rows, NUMERIC_15_2) is None) == (max(amounts) < 10**15)
