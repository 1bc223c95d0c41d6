"""Every query and write of the factoring family: the overdue batch, the exposure reads and slice, the
checks' queries and the outbox's pages and marks. Callers own the connection and its transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.factoring.exposure import CededInvoice, ClientLine
from cartera_pipelines.defs.factoring.states import NOT_MARKED_OVERDUE, OPEN_OPERATIONS
from cartera_pipelines.defs.factoring.tables import (
    Stamp,
    clientes,
    factoring_exposure,
    factura_eventos,
    facturas,
    operacion_facturas,
    operaciones_cesion,
    outbox_events,
)
from cartera_pipelines.lib.schema import replace_slice

CENT = Decimal("0.01")
BATCH_ORIGIN = "facturas_vencidas"

# --- the overdue batch ---------------------------------------------------------------------------------


def overdue(as_of: dt.date) -> sa.ColumnElement[bool]:
    """The rule the batch applies: due before ``as_of`` (a Chile date) and in a state it still marks."""
    return sa.and_(facturas.c.fecha_vencimiento < as_of, facturas.c.estado.notin_(NOT_MARKED_OVERDUE))


@dataclass(frozen=True)
class ClientOverdue:
    cliente_id: int
    razon_social: str
    facturas: int
    monto: Decimal


@dataclass(frozen=True)
class OverdueBatch:
    marked: int
    per_client: list[ClientOverdue]
    """Most invoices first."""

    @property
    def amount(self) -> Decimal:
        return sum((c.monto for c in self.per_client), Decimal(0)).quantize(CENT)


def mark_overdue(conn: sa.Connection, as_of: dt.date, *, run_id: str, now: dt.datetime) -> OverdueBatch:
    """Mark every overdue invoice ``vencida`` with one ``factura_eventos`` row each, set-based.

    One aggregate, one INSERT … SELECT of the events and one UPDATE with the same predicate; on
    PostgreSQL a SHARE ROW EXCLUSIVE lock on ``facturas`` makes the three see the same rows while readers
    carry on. Raises (so the caller's transaction rolls back) if events and marks ever differ.
    """
    predicate = overdue(as_of)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE facturas IN SHARE ROW EXCLUSIVE MODE"))
    per_client = conn.execute(
        sa.select(
            facturas.c.cliente_id,
            sa.func.count().label("facturas"),
            sa.func.sum(facturas.c.monto_total).label("monto"),
        )
        .where(predicate)
        .group_by(facturas.c.cliente_id)
    ).all()
    event = sa.select(
        facturas.c.id,
        facturas.c.cliente_id,
        sa.literal("vencida", sa.String),
        facturas.c.estado,
        sa.literal("vencida", sa.String),
        sa.literal(as_of, sa.Date),
        sa.literal(BATCH_ORIGIN, sa.String),
        sa.literal(run_id, sa.String),
        sa.literal(now, Stamp),
    ).where(predicate)
    columns = [
        "factura_id",
        "cliente_id",
        "tipo",
        "estado_anterior",
        "estado_nuevo",
        "fecha_referencia",
        "origen",
        "run_id",
        "created_at",
    ]
    events = conn.execute(sa.insert(factura_eventos).from_select(columns, event)).rowcount
    marked = conn.execute(
        sa.update(facturas).where(predicate).values(estado="vencida", updated_at=now)
    ).rowcount
    if events != marked:  # cannot happen under the lock; refuse to commit a mismatch if it does
        raise RuntimeError(f"wrote {events} events for {marked} invoices marked vencida; rolled back")
    names = client_names(conn, [r.cliente_id for r in per_client])
    totals = [
        ClientOverdue(
            r.cliente_id, names.get(r.cliente_id, "?"), int(r.facturas), Decimal(r.monto or 0).quantize(CENT)
        )
        for r in per_client
    ]
    return OverdueBatch(marked, sorted(totals, key=lambda c: (-c.facturas, c.cliente_id)))


def client_names(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = sa.select(clientes.c.id, clientes.c.razon_social).where(clientes.c.id.in_(ids))
    return dict(conn.execute(query).tuples().all())


def overdue_left(conn: sa.Connection, as_of: dt.date) -> int:
    query = sa.select(sa.func.count()).select_from(facturas).where(overdue(as_of))
    return int(conn.execute(query).scalar_one())


def vencidas_without_event(conn: sa.Connection) -> int:
    """Invoices in state ``vencida`` that no ``factura_eventos`` row explains (marked by another path)."""
    explained = sa.exists().where(factura_eventos.c.factura_id == facturas.c.id)
    query = sa.select(sa.func.count()).select_from(facturas).where(facturas.c.estado == "vencida", ~explained)
    return int(conn.execute(query).scalar_one())


# --- exposure ------------------------------------------------------------------------------------------


def read_clients(conn: sa.Connection) -> list[ClientLine]:
    columns = clientes.c
    query = sa.select(
        columns.id,
        columns.rut,
        columns.razon_social,
        columns.estado,
        columns.linea_credito,
        columns.linea_disponible,
    )
    return [ClientLine(*row) for row in conn.execute(query)]


def read_open_operations(conn: sa.Connection) -> list[tuple[int, Decimal]]:
    """``(cliente_id, monto_total_facturas)`` of every open operation."""
    operations = operaciones_cesion.c
    query = sa.select(operations.cliente_id, operations.monto_total_facturas).where(
        operations.estado.in_(OPEN_OPERATIONS)
    )
    return [(row.cliente_id, row.monto_total_facturas) for row in conn.execute(query)]


def stream_ceded_invoices(conn: sa.Connection) -> Iterator[CededInvoice]:
    """The invoices of every open operation, streamed."""
    operations, invoices = operaciones_cesion.c, facturas.c
    query = (
        sa.select(
            operations.cliente_id,
            invoices.rut_deudor,
            invoices.monto_total,
            invoices.fecha_vencimiento,
            invoices.estado,
        )
        .select_from(
            operaciones_cesion.join(
                operacion_facturas, operacion_facturas.c.operacion_id == operations.id
            ).join(facturas, invoices.id == operacion_facturas.c.factura_id)
        )
        .where(operations.estado.in_(OPEN_OPERATIONS))
    )
    for row in conn.execution_options(stream_results=True, yield_per=5000).execute(query):
        yield CededInvoice(*row)


def write_exposure(conn: sa.Connection, as_of: dt.date, rows: list[dict[str, Any]]) -> int:
    """Replace the ``as_of`` slice of ``factoring_exposure`` with ``rows``; earlier days stay."""
    return replace_slice(conn, factoring_exposure, {"as_of": as_of}, rows)[1]


def exposure_slice(conn: sa.Connection, as_of: dt.date | None = None) -> list[Any]:
    """The snapshot of ``as_of`` (``None``: the latest one)."""
    day = as_of if as_of is not None else sa.select(sa.func.max(factoring_exposure.c.as_of)).scalar_subquery()
    return conn.execute(sa.select(factoring_exposure).where(factoring_exposure.c.as_of == day)).all()


def count_clients(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(clientes)).scalar_one())


def client_ruts(conn: sa.Connection) -> Iterator[tuple[int, str]]:
    """``(id, rut)`` of every client."""
    yield from conn.execute(sa.select(clientes.c.id, clientes.c.rut)).tuples()


def debtor_ruts(conn: sa.Connection) -> Iterator[tuple[int, str]]:
    """``(an invoice id, rut_deudor)`` once per distinct debtor spelling, streamed."""
    query = sa.select(sa.func.min(facturas.c.id), facturas.c.rut_deudor).group_by(facturas.c.rut_deudor)
    yield from conn.execution_options(stream_results=True, yield_per=10_000).execute(query).tuples()


def operations_with_invoices(conn: sa.Connection) -> Iterator[Any]:
    """Every operation's stored pricing with its latest invoice due date and its invoices' total."""
    operations, invoices = operaciones_cesion.c, facturas.c
    stored = (
        operations.id,
        operations.fecha_solicitud,
        operations.monto_total_facturas,
        operations.tasa_descuento,
        operations.monto_descuento,
        operations.monto_a_desembolsar,
    )
    query = (
        sa.select(
            *stored,
            sa.func.max(invoices.fecha_vencimiento).label("ultimo_vencimiento"),
            sa.func.sum(invoices.monto_total).label("suma_facturas"),
        )
        .select_from(
            operaciones_cesion.join(
                operacion_facturas, operacion_facturas.c.operacion_id == operations.id, isouter=True
            ).join(facturas, invoices.id == operacion_facturas.c.factura_id, isouter=True)
        )
        .group_by(*stored)
    )
    yield from conn.execution_options(stream_results=True, yield_per=5000).execute(query)


# --- the outbox ----------------------------------------------------------------------------------------


def pending(now: dt.datetime, respect_backoff: bool = True) -> sa.ColumnElement[bool]:
    """Undelivered, not parked and (unless told otherwise) past its backoff."""
    events = outbox_events.c
    condition = sa.and_(events.delivered_at.is_(None), events.parked_at.is_(None))
    if respect_backoff:
        condition = sa.and_(
            condition, sa.or_(events.next_attempt_at.is_(None), events.next_attempt_at <= now)
        )
    return condition


def pending_page(
    conn: sa.Connection, *, after_id: int, size: int, now: dt.datetime, respect_backoff: bool
) -> list[Any]:
    """The next ``size`` pending events after ``after_id``, by id (keyset paging)."""
    events = outbox_events.c
    query = (
        sa.select(events.id, events.event_id, events.type, events.payload, events.created_at, events.attempts)
        .where(pending(now, respect_backoff), events.id > after_id)
        .order_by(events.id)
        .limit(size)
    )
    return conn.execute(query).all()


def pending_summary(conn: sa.Connection, now: dt.datetime) -> tuple[int, int, int]:
    """(count, highest id, total attempts) of the events a run would deliver now."""
    events = outbox_events.c
    query = sa.select(
        sa.func.count(), sa.func.max(events.id), sa.func.coalesce(sa.func.sum(events.attempts), 0)
    ).where(pending(now))
    count, max_id, attempts = conn.execute(query).one()
    return int(count), int(max_id or 0), int(attempts or 0)


def parked_total(conn: sa.Connection) -> int:
    query = (
        sa.select(sa.func.count()).select_from(outbox_events).where(outbox_events.c.parked_at.is_not(None))
    )
    return int(conn.execute(query).scalar_one())


def mark_delivered(conn: sa.Connection, marks: list[dict[str, Any]]) -> None:
    """``marks``: ``{"b_id", "b_at", "b_n"}`` per delivered event (id, when, requests it took)."""
    if not marks:
        return
    if conn.dialect.name == "postgresql":
        # One UPDATE … FROM (VALUES …) per batch instead of one statement per event.
        conn.execute(_mark_delivered_from_values(marks))
        return
    conn.execute(_MARK_DELIVERED, marks)


def mark_failed(conn: sa.Connection, marks: list[dict[str, Any]], *, max_attempts: int) -> None:
    """``marks``: ``{"b_id", "b_at", "b_n", "b_error", "b_next"}`` per failed event; parks at ``max_attempts``."""
    if not marks:
        return
    total = outbox_events.c.attempts + sa.bindparam("b_n")
    statement = (
        sa.update(outbox_events)
        .where(outbox_events.c.id == sa.bindparam("b_id"))
        .values(
            attempts=total,
            last_error=sa.bindparam("b_error"),
            next_attempt_at=sa.bindparam("b_next"),
            parked_at=sa.case((total >= max_attempts, sa.bindparam("b_at")), else_=None),
        )
    )
    conn.execute(statement, marks)


_MARK_DELIVERED = (
    sa.update(outbox_events)
    .where(outbox_events.c.id == sa.bindparam("b_id"))
    .values(
        delivered_at=sa.bindparam("b_at"),
        attempts=outbox_events.c.attempts + sa.bindparam("b_n"),
        last_error=None,
        next_attempt_at=None,
    )
)


def _mark_delivered_from_values(marks: list[dict[str, Any]]) -> sa.Update:
    values = sa.values(
        sa.column("b_id", sa.BigInteger),
        sa.column("b_at", sa.DateTime(timezone=True)),
        sa.column("b_n", sa.Integer),
        name="marks",
    ).data([(m["b_id"], m["b_at"], m["b_n"]) for m in marks])
    return (
        sa.update(outbox_events)
        .where(outbox_events.c.id == values.c.b_id)
        .values(
            delivered_at=values.c.b_at,
            attempts=outbox_events.c.attempts + values.c.b_n,
            last_error=None,
            next_attempt_at=None,
        )
    )
