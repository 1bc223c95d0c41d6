"""Credit exposure per client: pure aggregation over the client's open operations and their invoices.

What is still owed (DESIGN §3): the outstanding ceded amount is the sum of the *unpaid* invoices (not
``pagada``, not ``anulada``) of the client's open operations (``aprobada`` or ``desembolsada``) — an
operation of 1,000 whose debtor paid 600 has 400 outstanding; utilisation is that over the credit line;
the largest debtor share is the largest sum one debtor still owes (RUTs compared after normalisation, so
two spellings are one debtor) over the same invoices; an overdue ceded invoice is one of them whose due
date is before ``as_of`` (Chile's date).

What the line holds: the API reserves an operation's face value (``monto_total_facturas``) on the client's
line from approval until the operation is closed, so the expected available line is the credit line minus
the face value of the open operations (``monto_operaciones_abiertas``), whatever has been paid meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cartera_pipelines.defs.factoring import rut
from cartera_pipelines.defs.factoring.states import SETTLED

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")
ZERO = Decimal("0")


@dataclass(frozen=True)
class ClientLine:
    cliente_id: int
    rut: str
    razon_social: str
    estado: str
    linea_credito: Decimal
    linea_disponible: Decimal


@dataclass(frozen=True)
class CededInvoice:
    """An invoice inside one of the client's open operations."""

    cliente_id: int
    rut_deudor: str
    monto_total: Decimal
    fecha_vencimiento: dt.date
    estado: str


@dataclass
class _Acc:
    reserved: Decimal = ZERO
    """Face value of the open operations."""
    outstanding: Decimal = ZERO
    """Unpaid invoices of the open operations."""
    open_operations: int = 0
    by_debtor: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    overdue_count: int = 0
    overdue_amount: Decimal = ZERO


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole <= 0:
        return None
    return (part / whole).quantize(RATIO, rounding=ROUND_HALF_UP)


def compute_exposure(
    clients: Iterable[ClientLine],
    open_operations: Iterable[tuple[int, Decimal]],
    ceded_invoices: Iterable[CededInvoice],
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """One row per client (sorted by id), as stored in ``warehouse.factoring_exposure``.

    ``open_operations`` yields ``(cliente_id, monto_total_facturas)`` per open operation.
    """
    acc: dict[int, _Acc] = defaultdict(_Acc)
    for cliente_id, monto in open_operations:
        a = acc[cliente_id]
        a.reserved += Decimal(monto)
        a.open_operations += 1
    for inv in ceded_invoices:
        if inv.estado in SETTLED:
            continue  # paid or voided: owed by nobody any more
        a = acc[inv.cliente_id]
        amount = Decimal(inv.monto_total)
        # An invalid debtor RUT still counts, under its spelling, so no amount goes missing.
        debtor = rut.try_normalize(inv.rut_deudor) or f"invalid:{inv.rut_deudor}"
        a.by_debtor[debtor] += amount
        a.outstanding += amount
        if inv.fecha_vencimiento < as_of:
            a.overdue_count += 1
            a.overdue_amount += amount
    rows: list[dict[str, Any]] = []
    for c in sorted(clients, key=lambda c: c.cliente_id):
        a = acc.get(c.cliente_id, _Acc())
        top_debtor, top_amount = (None, ZERO)
        if a.by_debtor:
            top_debtor, top_amount = max(a.by_debtor.items(), key=lambda kv: (kv[1], kv[0]))
        line = Decimal(c.linea_credito)
        outstanding, reserved = a.outstanding.quantize(CENT), a.reserved.quantize(CENT)
        rows.append(
            {
                "as_of": as_of,
                "cliente_id": c.cliente_id,
                "rut": rut.try_normalize(c.rut),
                "rut_original": c.rut,
                "razon_social": c.razon_social,
                "estado": c.estado,
                "linea_credito": line.quantize(CENT),
                "linea_disponible": Decimal(c.linea_disponible).quantize(CENT),
                "linea_disponible_esperada": (line - reserved).quantize(CENT),
                "monto_operaciones_abiertas": reserved,
                "monto_cedido_vigente": outstanding,
                "operaciones_abiertas": a.open_operations,
                "utilizacion": _ratio(outstanding, line),
                "deudor_principal_rut": top_debtor,
                "deudor_principal_monto": top_amount.quantize(CENT),
                "concentracion_deudor_principal": _ratio(top_amount, a.outstanding),
                "facturas_cedidas_vencidas": a.overdue_count,
                "monto_cedido_vencido": a.overdue_amount.quantize(CENT),
            }
        )
    return rows


PREVIEW_COLUMNS = (
    "cliente_id",
    "rut",
    "razon_social",
    "linea_credito",
    "linea_disponible",
    "monto_cedido_vigente",
    "utilizacion",
    "concentracion_deudor_principal",
    "facturas_cedidas_vencidas",
)
HIGH_UTILISATION = Decimal("0.9")


def portfolio_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The portfolio's totals over one snapshot (numbers a risk analyst asks for first)."""
    line = sum((Decimal(r["linea_credito"]) for r in rows), ZERO)
    outstanding = sum((Decimal(r["monto_cedido_vigente"]) for r in rows), ZERO)
    return {
        "linea_credito_total": float(line),
        "monto_cedido_vigente_total": float(outstanding),
        "utilizacion_cartera": float((outstanding / line).quantize(RATIO)) if line else 0.0,
        "clientes_sobre_90pct": sum(
            1 for r in rows if r["utilizacion"] is not None and r["utilizacion"] >= HIGH_UTILISATION
        ),
        "clientes_linea_descuadrada": sum(
            1 for r in rows if r["linea_disponible"] != r["linea_disponible_esperada"]
        ),
        "facturas_cedidas_vencidas": sum(int(r["facturas_cedidas_vencidas"]) for r in rows),
    }


def largest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows by outstanding ceded amount, largest first (previews and the chart)."""
    return sorted(rows, key=lambda r: r["monto_cedido_vigente"], reverse=True)
