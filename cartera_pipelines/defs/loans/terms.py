"""Loan terms: what a schedule is computed from, validated once for every caller.

:func:`parse_terms` turns raw terms (a ``prestamos`` row as read, or the simulation's run config) into
:class:`LoanTerms`, or into :class:`InvalidTerms` listing every problem at once, never raising, so one bad
loan cannot stop a batch. The calendar rule lives here too: installment k of a loan is due
``base + k months`` (day kept, clamped to the month's end, always from the base date), ``base + 15·k``
days or ``base + 7·k`` days.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

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
            due_date(base_date, Modality(str(modality)), n)
        except (OverflowError, ValueError):
            problems.append(f"the last due date of {n} installments from {base_date} is past year 9999")
    if problems:
        return InvalidTerms(tuple(problems))
    assert p is not None and rate is not None and n is not None and isinstance(base_date, dt.date)
    return LoanTerms(p, rate, n, Modality(str(modality)), Method(str(method)), base_date)


def due_date(base: dt.date, modality: Modality, k: int) -> dt.date:
    if modality is Modality.MENSUAL:
        # relativedelta keeps the day and clamps it to the month's end; always from the base date.
        return base + relativedelta(months=k)
    return base + dt.timedelta(days=_DAYS_PER_PERIOD[modality] * k)
