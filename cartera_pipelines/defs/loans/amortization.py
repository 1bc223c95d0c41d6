"""The amortization engine: pure, typed, exact to the cent. No Dagster, no I/O.

Rules (DESIGN §3 loans):

* periodic rate r = annual % / 100 / periods per year (MENSUAL 12, QUINCENAL 24, SEMANAL 52);
* interest each period = the exact value balance × annual % ÷ (100 × periods), rounded half-up to cents.
  It is computed in integer cents over the rate's exact fraction, so a true half-cent tie rounds up
  (a rate pre-divided to 28 digits would get some ties wrong);
* FRANCESA: fixed payment round(P·r / (1 − (1+r)^−n)) from its exact rational value (P/n when r = 0),
  capital = payment − interest;
  ALEMANA: fixed capital round(P/n); AMERICANA: interest only, the principal in the last installment;
* the last installment takes whatever balance remains, so capital sums to P and the final balance is 0.
  (Capital is also capped at the balance, so tiny principals whose rounded payment overshoots never go
  negative: the remaining installments are then interest-free zeros.)
* due date k = base + k months (day kept, clamped to month end, always counted from the base date, so
  31 Jan → 29 Feb → 31 Mar), base + 15·k days, base + 7·k days (:func:`terms.due_date`).

The engine takes valid :class:`terms.LoanTerms`; :func:`terms.parse_terms` builds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import NamedTuple

from cartera_pipelines.defs.loans.terms import PERIODS_PER_YEAR, LoanTerms, Method, Modality, due_date


class Installment(NamedTuple):
    numero_cuota: int
    fecha_vencimiento: dt.date
    monto_cuota: Decimal
    monto_capital: Decimal
    monto_interes: Decimal
    saldo_capital_inicial: Decimal
    saldo_capital_final: Decimal


CentsRow = tuple[int, int, int]
"""One installment in integer cents: ``(capital, interest, opening balance)``."""


@lru_cache(maxsize=8192)
def due_dates(base: dt.date, modality: Modality, n: int) -> tuple[dt.date, ...]:
    """Due dates of installments 1..n (cached: a portfolio shares few base dates)."""
    return tuple(due_date(base, modality, k) for k in range(1, n + 1))


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2).to_integral_value(rounding=ROUND_HALF_UP))


def _half_up(numerator: int, denominator: int) -> int:
    """round(numerator / denominator) with ties up, for numerator >= 0 and denominator > 0."""
    return (2 * numerator + denominator) // (2 * denominator)


def _to_money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _french_cents(principal_cents: int, rate_num: int, rate_den: int, n: int) -> int:
    """The FRANCESA payment in cents, from its exact rational value, rounded half-up.

    With r = rate_num / rate_den, P·r / (1 − (1+r)^−n) = P·r·(1+r)^n / ((1+r)^n − 1)
    = P · rate_num · (rate_den + rate_num)^n / (rate_den · ((rate_den + rate_num)^n − rate_den^n)):
    integers only, so a true half-cent tie rounds up (at 50 digits, 1,912.75 at 24 % monthly over 3 gave
    663.25 instead of 663.26).
    """
    if rate_num == 0:
        return _half_up(principal_cents, n)
    grown = (rate_den + rate_num) ** n
    return _half_up(principal_cents * rate_num * grown, rate_den * (grown - rate_den**n))


def french_payment(principal: Decimal, annual_rate: Decimal, periods_per_year: int, n: int) -> Decimal:
    """FRANCESA fixed payment, rounded half-up to cents from its exact value (P/n when the rate is zero)."""
    rate_num, rate_den = annual_rate.as_integer_ratio()
    return _to_money(_french_cents(_cents(principal), rate_num, rate_den * 100 * periods_per_year, n))


def schedule_cents(terms: LoanTerms) -> list[CentsRow]:
    """The schedule in integer cents: ``(capital, interest, opening balance)`` for installments 1..n.

    This is the engine; :func:`schedule` dresses it in dates and ``Decimal``. Bulk writers format these
    integers directly (no intermediate ``Decimal``), so both paths give the same cents by construction.
    """
    n = terms.installments
    ppy = PERIODS_PER_YEAR[terms.modality]
    rate_num, rate_den = terms.annual_rate.as_integer_ratio()
    interest_den = rate_den * 100 * ppy
    balance = _cents(terms.principal)
    method = terms.method
    if method is Method.FRANCESA:
        fixed = _french_cents(balance, rate_num, interest_den, n)
    elif method is Method.ALEMANA:
        fixed = _half_up(balance, n)
    else:
        fixed = 0
    rows: list[CentsRow] = []
    for k in range(1, n + 1):
        interest = (2 * balance * rate_num + interest_den) // (2 * interest_den)  # half-up, exact
        if k == n:
            capital = balance
        elif method is Method.FRANCESA:
            capital = min(max(fixed - interest, 0), balance)
        elif method is Method.ALEMANA:
            capital = min(fixed, balance)
        else:
            capital = 0
        rows.append((capital, interest, balance))
        balance -= capital
    return rows


def schedule(terms: LoanTerms) -> list[Installment]:
    """The full schedule of ``terms``: installments 1..n with dates, capital, interest and balances."""
    dates = due_dates(terms.base_date, terms.modality, terms.installments)
    return [
        Installment(
            k,
            dates[k - 1],
            _to_money(capital + interest),
            _to_money(capital),
            _to_money(interest),
            _to_money(balance),
            _to_money(balance - capital),
        )
        for k, (capital, interest, balance) in enumerate(schedule_cents(terms), start=1)
    ]


@dataclass(frozen=True, slots=True)
class ScheduleTotals:
    installments: int
    total_paid: Decimal
    total_capital: Decimal
    total_interest: Decimal
    first_due: dt.date
    last_due: dt.date


def totals(rows: Sequence[Installment]) -> ScheduleTotals:
    """Sums of a schedule (what the simulation shows under the table)."""
    return ScheduleTotals(
        installments=len(rows),
        total_paid=sum((r.monto_cuota for r in rows), Decimal("0.00")),
        total_capital=sum((r.monto_capital for r in rows), Decimal("0.00")),
        total_interest=sum((r.monto_interes for r in rows), Decimal("0.00")),
        first_due=rows[0].fecha_vencimiento,
        last_due=rows[-1].fecha_vencimiento,
    )
