"""Loan terms: what a schedule is computed from, validated once for every caller.

:func:`parse_terms` turns raw terms (a ``prestamos`` row as read, or the simulation's run config) into
:class:`LoanTerms`, or into :class:`InvalidTerms` listing every problem at once, never raising, so one bad
loan cannot stop a batch. Raw values are made canonical by :mod:`normalise` (``mensual``/``MENSUAL `` are
``MENSUAL``; a TIMESTAMP base date is its date; a DOUBLE principal is rounded to cents). The calendar rule lives here too: installment k of a loan is due
``base + k months`` (day kept, clamped to the month's end, always from the base date), ``base + 15·k``
days or ``base + 7·k`` days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar

from dateutil.relativedelta import relativedelta

from cartera_pipelines.defs.loans.normalise import CENT, to_count, to_date, to_decimal, to_money, to_word


class Method(StrEnum):
    FRANCESA = "FRANCESA"
    ALEMANA = "ALEMANA"
    AMERICANA = "AMERICANA"


class Modality(StrEnum):
    MENSUAL = "MENSUAL"
    QUINCENAL = "QUINCENAL"
    SEMANAL = "SEMANAL"


_E = TypeVar("_E", Modality, Method)

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


def _principal(value: object, problems: list[str]) -> Decimal | None:
    amount = to_money(value)
    if amount is None:
        problems.append(f"principal {value!r} is not a decimal amount")
    elif amount <= 0:
        problems.append(f"principal must be > 0, got {amount}")
    elif amount != amount.quantize(CENT):
        problems.append(f"principal {amount} has more than 2 decimals")
    else:
        return amount
    return None


def _rate(value: object, problems: list[str]) -> Decimal | None:
    rate = to_decimal(value)
    if rate is None:
        problems.append(f"interest rate {value!r} is not a decimal number")
    elif rate < 0:
        problems.append(f"interest rate must be >= 0, got {rate}")
    else:
        return rate
    return None


def _count(value: object, problems: list[str]) -> int | None:
    n = to_count(value)
    if n is None:
        problems.append(f"number of installments {value!r} is not an integer")
    elif n <= 0:
        problems.append(f"number of installments must be > 0, got {n}")
    else:
        return n
    return None


def _choice(kind: type[_E], value: object, what: str, problems: list[str]) -> _E | None:
    word = to_word(value)
    if word in kind.__members__:
        return kind(word)
    problems.append(f"unknown {what} {value!r} (expected {', '.join(kind)})")
    return None


def _base_date(value: object, problems: list[str]) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append("missing base date (fecha_base_calculo)")
        return None
    day = to_date(value)
    if day is None:
        problems.append(f"base date {value!r} is not a date")
    return day


def parse_terms(
    principal: object,
    annual_rate: object,
    installments: object,
    modality: object,
    method: object,
    base_date: object,
) -> LoanTerms | InvalidTerms:
    """Validate raw terms into :class:`LoanTerms`: the one rule for the batch and the simulation.

    Values come as read from ``prestamos`` (any of the column types :mod:`normalise` accepts) or from run
    config (text); every problem is reported at once.
    """
    problems: list[str] = []
    amount = _principal(principal, problems)
    rate = _rate(annual_rate, problems)
    n = _count(installments, problems)
    payment_modality = _choice(Modality, modality, "payment modality", problems)
    amortization_method = _choice(Method, method, "amortization method", problems)
    base = _base_date(base_date, problems)
    if base is not None and payment_modality is not None and n is not None:
        try:
            due_date(base, payment_modality, n)
        except (OverflowError, ValueError):
            problems.append(f"the last due date of {n} installments from {base} is past year 9999")
    if problems:
        return InvalidTerms(tuple(problems))
    assert amount is not None and rate is not None and n is not None and base is not None
    assert payment_modality is not None and amortization_method is not None
    return LoanTerms(amount, rate, n, payment_modality, amortization_method, base)


@lru_cache(maxsize=65_536)
def due_date(base: dt.date, modality: Modality, k: int) -> dt.date:
    """When installment ``k`` is due (``OverflowError``/``ValueError`` past year 9999)."""
    if modality is Modality.MENSUAL:
        # relativedelta keeps the day and clamps it to the month's end; always from the base date.
        return base + relativedelta(months=k)
    return base + dt.timedelta(days=_DAYS_PER_PERIOD[modality] * k)
