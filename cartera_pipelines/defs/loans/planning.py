"""What to do with each approved loan, given the schedule it already has. Pure: no Dagster, no I/O.

A loan's stored schedule is reconciled against the engine's for its current terms: count, numbers, due
dates and every amount. A schedule that matches is kept; one that differs and has nothing paid is
regenerated (and the difference reported); one that differs with payments recorded is never touched
(reported). A schedule whose amounts would not fit the ``cuotas`` columns is refused for that loan only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

from cartera_pipelines.defs.loans.amortization import CentsRow, due_dates, schedule_cents
from cartera_pipelines.defs.loans.terms import InvalidTerms, LoanTerms, parse_terms


class Action(StrEnum):
    KEEP = "KEEP"
    """The stored schedule is the engine's: nothing to do."""
    CREATE = "CREATE"
    """No installments yet: generate the schedule."""
    REGENERATE = "REGENERATE"
    """The stored schedule differs from the engine's (or a run asked for it) and nothing is paid: replace it."""
    BLOCKED = "BLOCKED"
    """The stored schedule differs but payments are recorded: never touched, reported."""
    INVALID = "INVALID"
    """The terms cannot be scheduled, or the schedule does not fit the table: reported with the problems."""


@dataclass(frozen=True, slots=True)
class LoanRow:
    """A ``prestamos`` row as read (the driver's values: validation happens in :func:`decide`)."""

    id: int
    total_financiamiento: object
    numero_cuotas: object
    tasa_interes: object
    modalidad_pago: object
    metodo_amortizacion: object
    fecha_base_calculo: object


class StoredInstallment(NamedTuple):
    """A ``cuotas`` row as stored, normalised: amounts in integer cents (``None`` when unreadable)."""

    numero_cuota: int | None
    fecha_vencimiento: dt.date | None
    monto_cuota: int | None
    monto_capital: int | None
    monto_interes: int | None
    saldo_capital_inicial: int | None
    saldo_capital_final: int | None


@dataclass(frozen=True, slots=True)
class Existing:
    """The installments a loan already has, in installment order, and whether any has a payment."""

    installments: tuple[StoredInstallment, ...] = ()
    has_payments: bool = False

    @property
    def count(self) -> int:
        return len(self.installments)


@dataclass(frozen=True, slots=True)
class ColumnLimit:
    """The largest amount a ``cuotas`` money column holds: ``|cents| < max_cents`` (``None``: no limit)."""

    type_name: str
    max_cents: int | None


@dataclass(frozen=True, slots=True)
class Decision:
    loan: LoanRow
    action: Action
    existing: Existing
    terms: LoanTerms | None = None
    rows: Sequence[CentsRow] = ()
    """The engine's schedule in cents (what CREATE and REGENERATE write)."""
    problems: tuple[str, ...] = ()
    """Why: the terms' problems (INVALID), or how the stored schedule differs (REGENERATE, BLOCKED)."""

    def changed_meanwhile(self) -> Decision:
        """This REGENERATE, found with a payment (or other installments) when the guarded delete ran."""
        return replace(
            self,
            action=Action.BLOCKED,
            problems=(
                "the schedule changed during the run (a payment or an installment was recorded): kept",
            ),
        )


def terms_of(loan: LoanRow) -> LoanTerms | InvalidTerms:
    """The terms of a ``prestamos`` row, validated by the one rule (:func:`terms.parse_terms`)."""
    return parse_terms(
        loan.total_financiamiento,
        loan.tasa_interes,
        loan.numero_cuotas,
        loan.modalidad_pago,
        loan.metodo_amortizacion,
        loan.fecha_base_calculo,
    )


def _money(cents: int | None) -> str:
    if cents is None:
        return "unreadable"
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def _expected(terms: LoanTerms, rows: Sequence[CentsRow]) -> list[StoredInstallment]:
    dates = due_dates(terms.base_date, terms.modality, terms.installments)
    return [
        StoredInstallment(k, dates[k - 1], capital + interest, capital, interest, balance, balance - capital)
        for k, (capital, interest, balance) in enumerate(rows, start=1)
    ]


def schedule_difference(
    terms: LoanTerms, rows: Sequence[CentsRow], stored: Sequence[StoredInstallment]
) -> str | None:
    """How ``stored`` differs from the engine's schedule (the first difference), or ``None`` when equal."""
    expected = _expected(terms, rows)
    if list(stored) == expected:
        return None
    if len(stored) != len(expected):
        return f"{len(stored)} installments stored, {len(expected)} expected"
    for want, got in zip(expected, stored, strict=True):
        k = want.numero_cuota
        if got.numero_cuota != k:
            return f"installment numbers are not 1..{len(expected)} (found {got.numero_cuota} in place {k})"
        if got == want:
            continue
        differences = []
        if got.fecha_vencimiento != want.fecha_vencimiento:
            differences.append(f"due {got.fecha_vencimiento} stored, {want.fecha_vencimiento} expected")
        differences += [
            f"{name} {_money(getattr(got, name))} stored, {_money(getattr(want, name))} expected"
            for name in StoredInstallment._fields[2:]
            if getattr(got, name) != getattr(want, name)
        ]
        return f"installment {k}: " + "; ".join(differences)
    return None  # pragma: no cover - the lists differ, so one field above does


_WRITTEN: tuple[tuple[str, int], ...] = (
    ("monto_cuota", 0),
    ("monto_capital", 1),
    ("monto_interes", 2),
    ("saldo_capital_inicial", 3),
    ("saldo_capital_final", 4),
    ("capital_pendiente", 1),
    ("interes_pendiente", 2),
)
"""The money columns a new schedule fills, and which of its amounts (as in :func:`_amounts`) goes in each."""


def _amounts(row: CentsRow) -> tuple[int, int, int, int, int]:
    capital, interest, balance = row
    return capital + interest, capital, interest, balance, balance - capital


def overflow(rows: Sequence[CentsRow], limits: Mapping[str, ColumnLimit]) -> str | None:
    """The first amount of the schedule that does not fit its ``cuotas`` column, or ``None``."""
    bounds = [limit.max_cents for name, _ in _WRITTEN if (limit := limits.get(name)) and limit.max_cents]
    if not bounds or not rows:
        return None
    # amounts are never negative; the opening balance of the first installment is the largest balance
    largest = max(rows[0][2], max(capital + interest for capital, interest, _ in rows))
    if largest < min(bounds):
        return None
    for k, row in enumerate(rows, start=1):
        amounts = _amounts(row)
        for name, position in _WRITTEN:
            limit = limits.get(name)
            if limit and limit.max_cents and abs(amounts[position]) >= limit.max_cents:
                return (
                    f"installment {k}: {name} {_money(amounts[position])} does not fit "
                    f"cuotas.{name} {limit.type_name}: schedule refused"
                )
    return None


def decide(
    loan: LoanRow, existing: Existing, limits: Mapping[str, ColumnLimit] | None = None, *, force: bool = False
) -> Decision:
    """KEEP, CREATE, REGENERATE, BLOCKED or INVALID for one approved loan.

    ``force`` regenerates a schedule even when it matches (a run asked for this loan); payments still
    block it.
    """
    parsed = terms_of(loan)
    if isinstance(parsed, InvalidTerms):
        return Decision(loan, Action.INVALID, existing, problems=parsed.problems)
    rows = schedule_cents(parsed)
    difference = schedule_difference(parsed, rows, existing.installments) if existing.count else None
    if existing.count and difference is None and not force:
        return Decision(loan, Action.KEEP, existing, parsed)
    if existing.has_payments:
        why = difference or "regeneration requested"
        return Decision(loan, Action.BLOCKED, existing, parsed, problems=(f"payments recorded: {why}; kept",))
    refused = overflow(rows, limits or {})
    if refused:
        return Decision(loan, Action.INVALID, existing, parsed, problems=(refused,))
    if not existing.count:
        return Decision(loan, Action.CREATE, existing, parsed, rows)
    return Decision(
        loan, Action.REGENERATE, existing, parsed, rows, (difference or "regenerated on request",)
    )


def count_mismatches(loans: Iterable[LoanRow], counts: Mapping[int, int]) -> list[dict[str, Any]]:
    """Approved loans with valid terms whose installment count is not ``numero_cuotas`` (for a check)."""
    offenders = []
    for loan in loans:
        terms = terms_of(loan)
        if isinstance(terms, LoanTerms) and counts.get(loan.id, 0) != terms.installments:
            offenders.append(
                {
                    "prestamo_id": loan.id,
                    "numero_cuotas": terms.installments,
                    "cuotas_existentes": counts.get(loan.id, 0),
                }
            )
    return offenders


def invalid_loans(loans: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """Approved loans whose terms cannot be scheduled, each with its problems (for a check)."""
    return [
        {"prestamo_id": loan.id, "problemas": "; ".join(terms.problems)}
        for loan in loans
        if isinstance(terms := terms_of(loan), InvalidTerms)
    ]
