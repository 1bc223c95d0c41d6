"""SQL for the loans family (SQLAlchemy Core, set-based; every function runs on the caller's connection)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.loans.amortization import (
    Installment,
    LoanTerms,
    Modality,
    due_dates,
    schedule,
    schedule_cents,
)
from cartera_pipelines.defs.loans.planning import Existing, LoanRow
from cartera_pipelines.defs.loans.status import HALF_CENT, installment_status, status_sql, unpaid_status
from cartera_pipelines.defs.loans.tables import ESTADO_APROBADO, cuotas, prestamos
from cartera_pipelines.lib.bulk import copy_stream, insert_rows

ZERO = Decimal("0.00")
_LOAN_COLUMNS = [prestamos.c[field.name] for field in dataclasses.fields(LoanRow)]


def approved_count(conn: sa.Connection) -> int:
    query = sa.select(sa.func.count()).select_from(prestamos).where(prestamos.c.estado == ESTADO_APROBADO)
    return int(conn.execute(query).scalar_one())


def approved_page(conn: sa.Connection, after_id: int, limit: int) -> list[LoanRow]:
    """The next ``limit`` approved loans with id > ``after_id`` (keyset paging: no OFFSET scans)."""
    query = (
        sa.select(*_LOAN_COLUMNS)
        .where(prestamos.c.estado == ESTADO_APROBADO, prestamos.c.id > after_id)
        .order_by(prestamos.c.id)
        .limit(limit)
    )
    return [LoanRow(*row) for row in conn.execute(query)]


def _paid_amount() -> sa.ColumnElement[Any]:
    return (
        sa.func.coalesce(cuotas.c.capital_pagado, 0)
        + sa.func.coalesce(cuotas.c.interes_pagado, 0)
        + sa.func.coalesce(cuotas.c.mora_pagada, 0)
        + sa.func.coalesce(cuotas.c.total_pagado, 0)
    )


def existing_schedules(conn: sa.Connection, first_id: int, last_id: int) -> dict[int, Existing]:
    """Installment count and whether anything is paid, per loan with id in [first_id, last_id]."""
    paid = sa.func.sum(sa.case((_paid_amount() >= sa.literal(HALF_CENT, sa.Numeric(15, 3)), 1), else_=0))
    query = (
        sa.select(cuotas.c.prestamo_id, sa.func.count(), paid)
        .where(cuotas.c.prestamo_id.between(first_id, last_id))
        .group_by(cuotas.c.prestamo_id)
    )
    return {int(pid): Existing(int(count), bool(paid_rows)) for pid, count, paid_rows in conn.execute(query)}


def delete_schedules(conn: sa.Connection, prestamo_ids: Sequence[int]) -> int:
    """Delete the schedules of ``prestamo_ids`` (callers pass only loans without payments)."""
    if not prestamo_ids:
        return 0
    return conn.execute(sa.delete(cuotas).where(cuotas.c.prestamo_id.in_(prestamo_ids))).rowcount or 0


def installment_rows(
    prestamo_id: int, installments: Iterable[Installment], as_of: dt.date
) -> Iterator[dict[str, Any]]:
    """``cuotas`` rows of a freshly generated schedule: nothing paid, estado as of ``as_of``."""
    for i in installments:
        yield {
            "prestamo_id": prestamo_id,
            "numero_cuota": i.numero_cuota,
            "fecha_vencimiento": i.fecha_vencimiento,
            "monto_cuota": i.monto_cuota,
            "monto_capital": i.monto_capital,
            "monto_interes": i.monto_interes,
            "saldo_capital_inicial": i.saldo_capital_inicial,
            "saldo_capital_final": i.saldo_capital_final,
            "capital_pagado": ZERO,
            "interes_pagado": ZERO,
            "mora_pagada": ZERO,
            "total_pagado": ZERO,
            "capital_pendiente": i.monto_capital,
            "interes_pendiente": i.monto_interes,
            "estado": installment_status(
                i.fecha_vencimiento, i.monto_capital, i.monto_interes, ZERO, ZERO, as_of
            ).value,
        }


COPY_COLUMNS = (
    "prestamo_id",
    "numero_cuota",
    "fecha_vencimiento",
    "monto_cuota",
    "monto_capital",
    "monto_interes",
    "saldo_capital_inicial",
    "saldo_capital_final",
    "capital_pagado",
    "interes_pagado",
    "mora_pagada",
    "total_pagado",
    "capital_pendiente",
    "interes_pendiente",
    "estado",
)


def _money_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"  # amounts here are never negative


@lru_cache(maxsize=8192)
def _date_texts(base: dt.date, modality: Modality, n: int) -> tuple[str, ...]:
    return tuple(d.isoformat() for d in due_dates(base, modality, n))


def copy_lines(prestamo_id: int, terms: LoanTerms, as_of: dt.date) -> Iterator[str]:
    """The rows of :func:`installment_rows` as PostgreSQL ``COPY`` text lines, straight from the cents.

    The generic ``lib.bulk`` writer inspects every value's type; at portfolio scale (millions of rows)
    that costs more than the database's own work, so the one hot path formats its known columns here.
    Values are digits, dates and fixed words: nothing needs escaping in COPY's text format.
    """
    dates = due_dates(terms.base_date, terms.modality, terms.installments)
    texts = _date_texts(terms.base_date, terms.modality, terms.installments)
    for k, (capital, interest, balance) in enumerate(schedule_cents(terms), start=1):
        estado = unpaid_status(dates[k - 1], capital == 0 and interest == 0, as_of).value
        c, i = _money_text(capital), _money_text(interest)
        yield (
            f"{prestamo_id}\t{k}\t{texts[k - 1]}\t{_money_text(capital + interest)}\t{c}\t{i}\t"
            f"{_money_text(balance)}\t{_money_text(balance - capital)}\t0.00\t0.00\t0.00\t0.00\t{c}\t{i}\t{estado}\n"
        )


def write_schedules(conn: sa.Connection, loans: Sequence[tuple[int, LoanTerms]], as_of: dt.date) -> int:
    """Insert the schedules of ``(prestamo_id, terms)``: one ``COPY`` on PostgreSQL, batched inserts elsewhere."""
    if not loans:
        return 0
    if conn.dialect.name != "postgresql":
        return insert_rows(
            conn,
            cuotas,
            (row for loan_id, terms in loans for row in installment_rows(loan_id, schedule(terms), as_of)),
        )
    written = 0

    def lines() -> Iterator[str]:
        nonlocal written
        for loan_id, terms in loans:
            for line in copy_lines(loan_id, terms, as_of):
                written += 1
                yield line

    copy_stream(conn, cuotas.name, COPY_COLUMNS, lines())
    return written


def approved_cuotas() -> sa.ColumnElement[bool]:
    """Installments that belong to an approved loan."""
    approved = sa.select(prestamos.c.id).where(prestamos.c.estado == ESTADO_APROBADO)
    return cuotas.c.prestamo_id.in_(approved)


def refresh_status(conn: sa.Connection, as_of: dt.date) -> int:
    """Set ``estado`` on every installment of an approved loan whose status changed; returns rows updated."""
    computed = status_sql(cuotas, as_of)
    statement = (
        sa.update(cuotas)
        .where(approved_cuotas(), sa.or_(cuotas.c.estado.is_(None), cuotas.c.estado != computed))
        .values(estado=computed)
    )
    return conn.execute(statement).rowcount or 0


def status_counts(conn: sa.Connection) -> dict[str, int]:
    query = sa.select(cuotas.c.estado, sa.func.count()).where(approved_cuotas()).group_by(cuotas.c.estado)
    return {str(estado): int(n) for estado, n in conn.execute(query)}


def cuotas_count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(cuotas)).scalar_one())
