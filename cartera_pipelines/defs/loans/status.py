"""Installment status (``cuotas.estado``) from what has been paid and the as-of date.

The rule (it runs as the SQL ``CASE`` of ``sql.status_sql`` over every installment, in one UPDATE):

* PAGADO: capital and interest fully paid (late fees do not count toward it); an installment with nothing
  due (zero capital and zero interest) is settled, so PAGADO;
* ATRASADO: not fully paid and the due date has passed (due before the as-of date); a partly paid
  installment that is overdue is ATRASADO, because arrears matter more than the partial payment;
* PARCIAL: a payment recorded (``sql.paid_installment``: any of capital, interest, late fees or total
  paid), not due yet;
* PENDIENTE: nothing paid, not due yet.

A new schedule has nothing paid, so its rows are written with :func:`unpaid_status` (the same rule with
every paid amount zero); tests check the two agree on every engine.
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


def unpaid_status(due: dt.date, nothing_due: bool, as_of: dt.date) -> Status:
    """The status of an installment with nothing paid (new schedules, written in bulk).

    ``nothing_due`` is an installment of zero capital and zero interest (e.g. a zero-rate AMERICANA
    loan before its last installment): with nothing owed it is already settled, so PAGADO.
    """
    if nothing_due:
        return Status.PAGADO
    return Status.ATRASADO if due < as_of else Status.PENDIENTE
