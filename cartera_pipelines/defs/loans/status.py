"""Installment status (``cuotas.estado``) from what has been paid and the as-of date.

One rule, in two forms that must agree: :func:`installment_status` (pure Python, used for new schedules
and in tests) and ``sql.status_sql`` (the same rule as a SQL ``CASE``, for the set-based refresh).

* PAGADO: capital and interest fully paid (late fees do not count toward it);
* ATRASADO: not fully paid and the due date has passed (due before the as-of date); a partly paid
  installment that is overdue is ATRASADO, because arrears matter more than the partial payment;
* PARCIAL: something paid, not due yet;
* PENDIENTE: nothing paid, not due yet.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

# SQLite stores NUMERIC as binary floats: compare amounts with half a cent of slack, which is exact on
# PostgreSQL/MySQL (amounts there are whole cents) and absorbs float noise on SQLite.
HALF_CENT = Decimal("0.005")


class Status(StrEnum):
    PENDIENTE = "PENDIENTE"
    PAGADO = "PAGADO"
    ATRASADO = "ATRASADO"
    PARCIAL = "PARCIAL"


def installment_status(
    due: dt.date,
    capital: Decimal,
    interest: Decimal,
    capital_paid: Decimal,
    interest_paid: Decimal,
    as_of: dt.date,
) -> Status:
    if capital - capital_paid < HALF_CENT and interest - interest_paid < HALF_CENT:
        return Status.PAGADO
    if due < as_of:
        return Status.ATRASADO
    if capital_paid + interest_paid >= HALF_CENT:
        return Status.PARCIAL
    return Status.PENDIENTE


def unpaid_status(due: dt.date, nothing_due: bool, as_of: dt.date) -> Status:
    """:func:`installment_status` of an installment with nothing paid (new schedules, bulk path).

    ``nothing_due`` is an installment of zero capital and zero interest (e.g. a zero-rate AMERICANA
    loan before its last installment): with nothing owed it is already settled, so PAGADO.
    """
    if nothing_due:
        return Status.PAGADO
    return Status.ATRASADO if due < as_of else Status.PENDIENTE
