"""The amortization engine: pure, typed, exact to the cent. No Dagster, no I/O.

Rules (DESIGN §3 loans):

* periodic rate r = annual % / 100 / periods per year (MENSUAL 12, QUINCENAL 24, SEMANAL 52);
* interest each period = the exact value balance × annual % ÷ (100 × periods), rounded half-up to cents.
  It is computed in integer cents over the rate's exact fraction, so a true half-cent tie rounds up
  (a rate pre-divided to 28 digits would get some ties wrong);
* FRANCESA: fixed payment round(P·r / (1 − (1+r)^−n)) (P/n when r = 0), capital = payment − interest;
  ALEMANA: fixed capital round(P/n); AMERICANA: interest only, the principal in the last installment;
* the last installment takes whatever balance remains, so capital sums to P and the final balance is 0.
  (Capital is also capped at the balance, so tiny principals whose rounded payment overshoots never go
  negative: the remaining installments are then interest-free zeros.)
* due date k = base + k months (day kept, clamped to month end, always counted from the base date, so
  31 Jan → 29 Feb → 31 Mar), base + 15·k days, base + 7·k days.

Invalid terms are returned as a list of problems (:class:`InvalidTerms`), never raised, so one bad loan
cannot stop a batch.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from dateutil.relativedelta import relativedelta

CENT = Decimal("0.01")


class Method(StrEnum):
    FRANCESA = "FRANCESA"
    ALEMANA = "ALEMANA"
    AMERICANA = "AMERICANA"


class Modality(StrEnum):
    MENSUAL = "MENSUAL"
    QUINCENAL = "QUINCENAL"
    SEMANAL = "SEMANAL"


PERIODS_PER_YEAR: dict[Modality, int] = {Modality.MENSUAL: 12, Modality.QUINCENAL: 24, Modality.SEMANAL: 52}
_DAYS_PER_PERIOD: dict[Modality, int] = {Modality.QUINCENAL: 15, Modality.SEMANAL: 7}


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """Valid loan terms (build them with :func:`parse_terms`)."""

    principal: Decimal
    annual_rate: Decimal
    """Annual interest rate in percent (24.5 means 24.5 % a year)."""
    installments: int
    modality: Modality
    method: Method
    base_date: dt.date


@dataclass(frozen=True, slots=True)
class InvalidTerms:
    """Why a loan cannot be scheduled: one human-readable problem per broken term."""

    problems: tuple[str, ...]


class Installment(NamedTuple):
    numero_cuota: int
    fecha_vencimiento: dt.date
    monto_cuota: Decimal
    monto_capital: Decimal
    monto_interes: Decimal
    saldo_capital_inicial: Decimal
    saldo_capital_final: Decimal


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except decimal.InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None  # floats are refused on purpose: money never goes through binary floating point


def parse_terms(
    principal: object,
    annual_rate: object,
    installments: object,
    modality: object,
    method: object,
    base_date: object,
) -> LoanTerms | InvalidTerms:
    """Validate raw terms (as read from ``prestamos`` or run config) into :class:`LoanTerms`."""
    problems: list[str] = []
    p = _as_decimal(principal)
    if p is None:
        problems.append(f"principal {principal!r} is not a decimal amount")
    elif p <= 0:
        problems.append(f"principal must be > 0, got {p}")
    elif p != p.quantize(CENT):
        problems.append(f"principal {p} has more than 2 decimals")
    rate = _as_decimal(annual_rate)
    if rate is None:
        problems.append(f"interest rate {annual_rate!r} is not a decimal number")
    elif rate < 0:
        problems.append(f"interest rate must be >= 0, got {rate}")
    n = installments if isinstance(installments, int) and not isinstance(installments, bool) else None
    if n is None:
        problems.append(f"number of installments {installments!r} is not an integer")
    elif n <= 0:
        problems.append(f"number of installments must be > 0, got {n}")
    modality_ok = modality in Modality.__members__
    if not modality_ok:
        problems.append(f"unknown payment modality {modality!r} (expected {', '.join(Modality)})")
    if method not in Method.__members__:
        problems.append(f"unknown amortization method {method!r} (expected {', '.join(Method)})")
    if base_date is None:
        problems.append("missing base date (fecha_base_calculo)")
    elif not isinstance(base_date, dt.date) or isinstance(base_date, dt.datetime):
        problems.append(f"base date {base_date!r} is not a date")
    elif modality_ok and n is not None and n > 0:
        try:
            _due_date(base_date, Modality(str(modality)), n)
        except (OverflowError, ValueError):
            problems.append(f"the last due date of {n} installments from {base_date} is past year 9999")
    if problems:
        return InvalidTerms(tuple(problems))
    assert p is not None and rate is not None and n is not None and isinstance(base_date, dt.date)
    return LoanTerms(p, rate, n, Modality(str(modality)), Method(str(method)), base_date)


def _due_date(base: dt.date, modality: Modality, k: int) -> dt.date:
    if modality is Modality.MENSUAL:
        # relativedelta keeps the day and clamps it to the month's end; always from the base date.
        return base + relativedelta(months=k)
    return base + dt.timedelta(days=_DAYS_PER_PERIOD[modality] * k)


@lru_cache(maxsize=8192)
def due_dates(base: dt.date, modality: Modality, n: int) -> tuple[dt.date, ...]:
    """Due dates of installments 1..n (cached: a portfolio shares few base dates)."""
    return tuple(_due_date(base, modality, k) for k in range(1, n + 1))


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2).to_integral_value(rounding=ROUND_HALF_UP))


def _half_up(numerator: int, denominator: int) -> int:
    """round(numerator / denominator) with ties up, for numerator >= 0 and denominator > 0."""
    return (2 * numerator + denominator) // (2 * denominator)


def _to_money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def french_payment(principal: Decimal, annual_rate: Decimal, periods_per_year: int, n: int) -> Decimal:
    """FRANCESA fixed payment, rounded half-up to cents (P/n when the rate is zero)."""
    if annual_rate == 0:
        return _to_money(_half_up(_cents(principal), n))
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        r = annual_rate / (100 * periods_per_year)
        payment = principal * r / (1 - (1 + r) ** -n)
    return payment.quantize(CENT, rounding=ROUND_HALF_UP)


def schedule_cents(terms: LoanTerms) -> list[tuple[int, int, int]]:
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
        fixed = _cents(french_payment(terms.principal, terms.annual_rate, ppy, n))
    elif method is Method.ALEMANA:
        fixed = _half_up(balance, n)
    else:
        fixed = 0
    rows: list[tuple[int, int, int]] = []
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
