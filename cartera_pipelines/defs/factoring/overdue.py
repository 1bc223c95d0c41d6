"""When an invoice is overdue: Chile's calendar date, not the server's or UTC's.

Pure logic; the batch itself (``assets.py``) applies the same rule in one set-based UPDATE.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CHILE = ZoneInfo("America/Santiago")

ESTADOS_FACTURA = ("disponible", "en_proceso", "cedida", "pagada", "vencida", "anulada")
# Ceded, paid and voided invoices are someone else's concern (or closed); vencida is already done.
NOT_MARKED = ("cedida", "pagada", "anulada", "vencida")
ESTADOS_OPERACION = ("pendiente", "aprobada", "rechazada", "desembolsada", "finalizada")
# Operations that hold part of the client's credit line: approved and not yet collected.
OPEN_OPERATIONS = ("aprobada", "desembolsada")


def chile_date(moment: dt.datetime) -> dt.date:
    """The calendar date in Santiago at ``moment`` (an aware datetime; naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(CHILE).date()


def chile_today() -> dt.date:
    return chile_date(dt.datetime.now(dt.UTC))


def resolve_as_of(as_of: str | None, now: dt.datetime | None = None) -> dt.date:
    """Run config ``as_of`` (``YYYY-MM-DD``) or, when empty, today's date in Chile."""
    if as_of:
        try:
            return dt.date.fromisoformat(as_of.strip())
        except ValueError as exc:
            raise ValueError(f"as_of must be a date YYYY-MM-DD, got {as_of!r}") from exc
    return chile_date(now or dt.datetime.now(dt.UTC))


def is_overdue(estado: str, fecha_vencimiento: dt.date, as_of: dt.date) -> bool:
    """Whether the batch marks this invoice ``vencida`` on ``as_of`` (its due date has passed)."""
    return estado not in NOT_MARKED and fecha_vencimiento < as_of
