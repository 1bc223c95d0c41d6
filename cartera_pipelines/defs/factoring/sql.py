"""Every query and write of the factoring family: the overdue batch, the exposure reads and slice, the
checks' queries and the outbox's pages and marks. Callers own the connection and its transaction.

The API's tables are read as they are (``lib.foreign_tables``): each read reflects the columns it uses,
fails in one line if one is missing or cannot hold what we mean, and normalises the values it gets (dates
to Chile's calendar, amounts to exact Decimals, text of any length). A record whose value cannot be read is
reported in one line (``unreadable``) and left out; the rest goes on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

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
from cartera_pipelines.lib.dates import SANTIAGO
from cartera_pipelines.lib.foreign_tables import ForeignTable, ForeignValueError
from cartera_pipelines.lib.schema import replace_slice

CENT = Decimal("0.01")
BATCH_ORIGIN = "facturas_vencidas"


def as_they_are(
    conn: sa.Connection, table: sa.Table, names: Iterable[str], optional: Iterable[str] = ()
) -> ForeignTable:
    """One of the API's tables, reflected for the columns a read uses (Chile's calendar for dates)."""
    return ForeignTable.reflect(conn, table, names, zone=SANTIAGO, optional=optional)


def _typed(table: ForeignTable, row: Any, names: Sequence[str], record: object) -> list[Any]:
    return [table.value(name, getattr(row, name), record=record) for name in names]


# --- the overdue batch ---------------------------------------------------------------------------------

BATCH_COLUMNS = ("id", "cliente_id", "monto_total", "fecha_vencimiento", "estado")


def overdue(invoices: ForeignTable, as_of: dt.date) -> sa.ColumnElement[bool]:
    """The rule the batch applies: due before ``as_of`` (Chile's date, whatever the column's type) and in a
    state it still marks."""
    return sa.and_(
        invoices.before_day("fecha_vencimiento", as_of), facturas.c.estado.notin_(NOT_MARKED_OVERDUE)
    )


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
    invoices = as_they_are(conn, facturas, BATCH_COLUMNS, optional=["updated_at"])
    predicate = overdue(invoices, as_of)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE facturas IN SHARE ROW EXCLUSIVE MODE"))
    per_client = conn.execute(
        sa.select(
            facturas.c.cliente_id,
            sa.func.count().label("facturas"),
            sa.func.sum(invoices.expr("monto_total")).label("monto"),
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
    changes: dict[str, Any] = {"estado": "vencida"} | (
        {"updated_at": now} if invoices.has("updated_at") else {}
    )
    marked = conn.execute(sa.update(facturas).where(predicate).values(**changes)).rowcount
    if events != marked:  # cannot happen under the lock; refuse to commit a mismatch if it does
        raise RuntimeError(f"wrote {events} events for {marked} invoices marked vencida; rolled back")
    names = client_names(conn, [r.cliente_id for r in per_client])
    totals = [
        ClientOverdue(
            r.cliente_id,
            names.get(r.cliente_id, "?"),
            int(r.facturas),
            _money(invoices, r.monto, f"cliente {r.cliente_id}"),
        )
        for r in per_client
    ]
    return OverdueBatch(marked, sorted(totals, key=lambda c: (-c.facturas, c.cliente_id)))


def _money(table: ForeignTable, total: Any, record: str) -> Decimal:
    """A SUM of ``monto_total`` (NULL when there was nothing to add) to the cent."""
    return Decimal(0) if total is None else table.value("monto_total", total, record=record).quantize(CENT)


def client_names(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = sa.select(clientes.c.id, clientes.c.razon_social).where(clientes.c.id.in_(ids))
    return {cliente_id: str(name) for cliente_id, name in conn.execute(query).all()}


def overdue_left(conn: sa.Connection, as_of: dt.date) -> int:
    invoices = as_they_are(conn, facturas, BATCH_COLUMNS)
    query = sa.select(sa.func.count()).select_from(facturas).where(overdue(invoices, as_of))
    return int(conn.execute(query).scalar_one())


def vencidas_without_event(conn: sa.Connection) -> int:
    """Invoices in state ``vencida`` that no ``factura_eventos`` row explains (marked by another path)."""
    explained = sa.exists().where(factura_eventos.c.factura_id == facturas.c.id)
    query = sa.select(sa.func.count()).select_from(facturas).where(facturas.c.estado == "vencida", ~explained)
    return int(conn.execute(query).scalar_one())


# --- exposure ------------------------------------------------------------------------------------------

CLIENT_COLUMNS = ("id", "rut", "razon_social", "estado", "linea_credito", "linea_disponible")
INVOICE_COLUMNS = ("rut_deudor", "monto_total", "fecha_vencimiento", "estado")


def read_clients(conn: sa.Connection, unreadable: list[str]) -> list[ClientLine]:
    """Every client with its credit line; a client that cannot be read is left out with one line."""
    clients = as_they_are(conn, clientes, CLIENT_COLUMNS)
    lines = []
    for row in conn.execute(sa.select(*clients.columns(*CLIENT_COLUMNS))):
        try:
            lines.append(ClientLine(*_typed(clients, row, CLIENT_COLUMNS, row.id)))
        except ForeignValueError as error:
            unreadable.append(str(error))
    return lines


def read_open_operations(conn: sa.Connection, unreadable: list[str]) -> list[tuple[int, Decimal]]:
    """``(cliente_id, monto_total_facturas)`` of every open operation."""
    operations = as_they_are(conn, operaciones_cesion, ("id", "cliente_id", "monto_total_facturas", "estado"))
    query = sa.select(*operations.columns("id", "cliente_id", "monto_total_facturas")).where(
        operaciones_cesion.c.estado.in_(OPEN_OPERATIONS)
    )
    found: list[tuple[int, Decimal]] = []
    for row in conn.execute(query):
        try:
            cliente_id, amount = _typed(operations, row, ("cliente_id", "monto_total_facturas"), row.id)
        except ForeignValueError as error:
            unreadable.append(str(error))
            continue
        found.append((cliente_id, amount))
    return found


def stream_ceded_invoices(conn: sa.Connection, unreadable: list[str]) -> Iterator[CededInvoice]:
    """The invoices of every open operation, streamed; an invoice that cannot be read gets one line."""
    operations = as_they_are(conn, operaciones_cesion, ("id", "cliente_id", "estado"))
    as_they_are(conn, operacion_facturas, ("operacion_id", "factura_id"))  # a missing link column: one line
    invoices = as_they_are(conn, facturas, ("id", *INVOICE_COLUMNS))
    query = (
        sa.select(
            operations.expr("cliente_id").label("cliente_id"), *invoices.columns("id", *INVOICE_COLUMNS)
        )
        .select_from(
            operaciones_cesion.join(
                operacion_facturas, operacion_facturas.c.operacion_id == operaciones_cesion.c.id
            ).join(facturas, facturas.c.id == operacion_facturas.c.factura_id)
        )
        .where(operaciones_cesion.c.estado.in_(OPEN_OPERATIONS))
    )
    for row in conn.execution_options(stream_results=True, yield_per=5000).execute(query):
        try:
            cliente_id = operations.value("cliente_id", row.cliente_id, record=row.id)
            yield CededInvoice(cliente_id, *_typed(invoices, row, INVOICE_COLUMNS, row.id))
        except ForeignValueError as error:
            unreadable.append(str(error))


def write_exposure(conn: sa.Connection, as_of: dt.date, rows: list[dict[str, Any]]) -> int:
    """Replace the ``as_of`` slice of ``factoring_exposure`` with ``rows``; earlier days stay."""
    return replace_slice(conn, factoring_exposure, {"as_of": as_of}, rows)[1]


def exposure_slice(conn: sa.Connection, as_of: dt.date | None = None) -> list[Any]:
    """The snapshot of ``as_of`` (``None``: the latest one)."""
    day = as_of if as_of is not None else sa.select(sa.func.max(factoring_exposure.c.as_of)).scalar_subquery()
    return conn.execute(sa.select(factoring_exposure).where(factoring_exposure.c.as_of == day)).all()


# --- the checks' reads ---------------------------------------------------------------------------------


def count_clients(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(clientes)).scalar_one())


def client_ruts(conn: sa.Connection) -> Iterator[tuple[int, str]]:
    """``(id, rut)`` of every client."""
    clients = as_they_are(conn, clientes, ("id", "rut"))
    for row in conn.execute(sa.select(*clients.columns("id", "rut"))):
        yield row.id, clients.value("rut", row.rut, record=row.id)


def debtor_ruts(conn: sa.Connection) -> Iterator[tuple[int, str]]:
    """``(an invoice id, rut_deudor)`` once per distinct debtor spelling, streamed."""
    invoices = as_they_are(conn, facturas, ("id", "rut_deudor"))
    rut_deudor = invoices.expr("rut_deudor")
    query = sa.select(sa.func.min(facturas.c.id).label("id"), rut_deudor.label("rut_deudor")).group_by(
        rut_deudor
    )
    for row in conn.execution_options(stream_results=True, yield_per=10_000).execute(query):
        yield row.id, invoices.value("rut_deudor", row.rut_deudor, record=row.id)


PRICING_COLUMNS = (
    "fecha_solicitud",
    "monto_total_facturas",
    "tasa_descuento",
    "monto_descuento",
    "monto_a_desembolsar",
)


@dataclass(frozen=True)
class StoredPricing:
    """An operation's stored pricing with its latest invoice due date and its invoices' total."""

    id: int
    fecha_solicitud: dt.date
    monto_total_facturas: Decimal
    tasa_descuento: Decimal
    monto_descuento: Decimal
    monto_a_desembolsar: Decimal
    ultimo_vencimiento: dt.date | None
    suma_facturas: Decimal | None


def operations_with_invoices(conn: sa.Connection) -> Iterator[StoredPricing | str]:
    """Every operation's :class:`StoredPricing`, or one line saying why it cannot be read."""
    operations = as_they_are(conn, operaciones_cesion, ("id", *PRICING_COLUMNS))
    invoices = as_they_are(conn, facturas, ("id", "fecha_vencimiento", "monto_total"))
    stored = [operations.expr(name).label(name) for name in ("id", *PRICING_COLUMNS)]
    query = (
        sa.select(
            *stored,
            sa.func.max(invoices.expr("fecha_vencimiento")).label("ultimo_vencimiento"),
            sa.func.sum(invoices.expr("monto_total")).label("suma_facturas"),
        )
        .select_from(
            operaciones_cesion.join(
                operacion_facturas, operacion_facturas.c.operacion_id == operaciones_cesion.c.id, isouter=True
            ).join(facturas, facturas.c.id == operacion_facturas.c.factura_id, isouter=True)
        )
        .group_by(*[operations.expr(name) for name in ("id", *PRICING_COLUMNS)])
    )
    for row in conn.execution_options(stream_results=True, yield_per=5000).execute(query):
        try:
            due = invoices.value("fecha_vencimiento", row.ultimo_vencimiento, record=f"operación {row.id}")
            total = None if row.suma_facturas is None else invoices.value("monto_total", row.suma_facturas)
            yield StoredPricing(row.id, *_typed(operations, row, PRICING_COLUMNS, row.id), due, total)
        except ForeignValueError as error:
            yield str(error)


# --- the outbox ----------------------------------------------------------------------------------------

EVENT_COLUMNS = ("event_id", "type", "payload", "created_at")


def outbox_as_it_is(conn: sa.Connection) -> ForeignTable:
    """The API's outbox columns we read (ours — ``id``, ``next_attempt_at``, ``parked_at`` — are as declared)."""
    return as_they_are(conn, outbox_events, EVENT_COLUMNS)


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
    conn: sa.Connection,
    outbox: ForeignTable,
    *,
    after_id: int,
    size: int,
    now: dt.datetime,
    respect_backoff: bool,
) -> list[Any]:
    """The next ``size`` pending events after ``after_id``, by id (keyset paging); the API's columns raw,
    for :meth:`ForeignTable.value` to read one event at a time."""
    events = outbox_events.c
    query = (
        sa.select(events.id, *outbox.columns(*EVENT_COLUMNS), events.attempts)
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
    """``marks``: ``{"b_id", "b_at"}`` per delivered event; each counts one more attempt."""
    if not marks:
        return
    if conn.dialect.name == "postgresql":
        # One UPDATE … FROM unnest(arrays) per batch: one statement, compiled once, whatever the batch size.
        ids, ats = zip(*((m["b_id"], m["b_at"]) for m in marks), strict=True)
        conn.execute(_MARK_DELIVERED_PG, {"ids": list(ids), "ats": list(ats)})
        return
    conn.execute(_MARK_DELIVERED, marks)


def mark_failed(conn: sa.Connection, marks: list[dict[str, Any]], *, max_attempts: int) -> None:
    """``marks``: ``{"b_id", "b_at", "b_error", "b_next"}`` per failed event: one more attempt, the error,
    the next try; parked once it has failed ``max_attempts`` times."""
    if not marks:
        return
    if conn.dialect.name == "postgresql":
        columns = zip(*((m["b_id"], m["b_at"], m["b_error"], m["b_next"]) for m in marks), strict=True)
        conn.execute(
            _MARK_FAILED_PG,
            {**dict(zip(("ids", "ats", "errors", "nexts"), map(list, columns))), "max": max_attempts},
        )
        return
    attempts = outbox_events.c.attempts + 1
    statement = (
        sa.update(outbox_events)
        .where(outbox_events.c.id == sa.bindparam("b_id"))
        .values(
            attempts=attempts,
            last_error=sa.bindparam("b_error"),
            next_attempt_at=sa.bindparam("b_next"),
            parked_at=sa.case((attempts >= max_attempts, sa.bindparam("b_at")), else_=None),
        )
    )
    conn.execute(statement, marks)


_MARK_DELIVERED = (
    sa.update(outbox_events)
    .where(outbox_events.c.id == sa.bindparam("b_id"))
    .values(
        delivered_at=sa.bindparam("b_at"),
        attempts=outbox_events.c.attempts + 1,
        last_error=None,
        next_attempt_at=None,
    )
)


def _arrays(**columns: sa.types.TypeEngine[Any]) -> Any:
    """``unnest`` of array parameters as a table (PostgreSQL): one bound array per column."""
    params = [sa.bindparam(name, type_=postgresql.ARRAY(kind)) for name, kind in columns.items()]
    return sa.func.unnest(*params).table_valued(*columns).render_derived(name="marks")


_DELIVERED = _arrays(ids=sa.BigInteger(), ats=sa.DateTime(timezone=True))
_MARK_DELIVERED_PG = (
    sa.update(outbox_events)
    .where(outbox_events.c.id == _DELIVERED.c.ids)
    .values(
        delivered_at=_DELIVERED.c.ats,
        attempts=outbox_events.c.attempts + 1,
        last_error=None,
        next_attempt_at=None,
    )
)
_FAILED = _arrays(
    ids=sa.BigInteger(), ats=sa.DateTime(timezone=True), errors=sa.Text(), nexts=sa.DateTime(timezone=True)
)
_MARK_FAILED_PG = (
    sa.update(outbox_events)
    .where(outbox_events.c.id == _FAILED.c.ids)
    .values(
        attempts=outbox_events.c.attempts + 1,
        last_error=_FAILED.c.errors,
        next_attempt_at=_FAILED.c.nexts,
        parked_at=sa.case((outbox_events.c.attempts + 1 >= sa.bindparam("max"), _FAILED.c.ats), else_=None),
    )
)
