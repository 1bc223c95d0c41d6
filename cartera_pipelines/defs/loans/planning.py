"""What to do with each approved loan, given the schedule it already has. Pure: no Dagster, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from cartera_pipelines.defs.loans.terms import InvalidTerms, LoanTerms, parse_terms


class Action(StrEnum):
    KEEP = "KEEP"
    """The schedule has the right number of installments: nothing to do."""
    CREATE = "CREATE"
    """No installments yet: generate the schedule."""
    REGENERATE = "REGENERATE"
    """Wrong number of installments and nothing paid: replace the schedule."""
    BLOCKED = "BLOCKED"
    """Wrong number of installments but payments recorded: never touched, reported."""
    INVALID = "INVALID"
    """The terms cannot be scheduled: reported with the problems."""


@dataclass(frozen=True, slots=True)
class LoanRow:
    """A ``prestamos`` row as read (raw values: validation happens in :func:`decide`)."""

    id: int
    total_financiamiento: Decimal | None
    numero_cuotas: int | None
    tasa_interes: Decimal | None
    modalidad_pago: str | None
    metodo_amortizacion: str | None
    fecha_base_calculo: dt.date | None


@dataclass(frozen=True, slots=True)
class Existing:
    """The installments a loan already has."""

    count: int = 0
    has_payments: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    loan: LoanRow
    action: Action
    existing: Existing
    terms: LoanTerms | None = None
    problems: tuple[str, ...] = ()


def decide(loan: LoanRow, existing: Existing) -> Decision:
    """KEEP, CREATE, REGENERATE, BLOCKED or INVALID for one approved loan."""
    parsed = terms_of(loan)
    if isinstance(parsed, InvalidTerms):
        return Decision(loan, Action.INVALID, existing, problems=parsed.problems)
    if existing.count == parsed.installments:
        return Decision(loan, Action.KEEP, existing, parsed)
    if existing.count == 0:
        return Decision(loan, Action.CREATE, existing, parsed)
    if existing.has_payments:
        return Decision(
            loan,
            Action.BLOCKED,
            existing,
            parsed,
            problems=("payments recorded: wrong count kept, not regenerated",),
        )
    return Decision(loan, Action.REGENERATE, existing, parsed)


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
