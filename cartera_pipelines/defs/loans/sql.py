"""Every query and write of the loans family (SQLAlchemy Core, set-based, on the caller's connection).

* the approved loans, page by page, and the schedules they already have;
* the writes: the delete of schedules being replaced, the bulk insert (one streamed ``COPY`` on
  PostgreSQL through :func:`lib.bulk.copy_stream`, batched inserts elsewhere), the status refresh;
* the offenders queries of the checks on ``operations/cuotas`` and the sensor's query.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.loans.amortization import Installment, due_dates, schedule, schedule_cents
from cartera_pipelines.defs.loans.planning import Existing, LoanRow
from cartera_pipelines.defs.loans.status import HALF_CENT, Status, installment_status, unpaid_status
from cartera_pipelines.defs.loans.tables import ESTADO_APROBADO, cuotas, prestamos
from cartera_pipelines.defs.loans.terms import LoanTerms, Method, Modality
from cartera_pipelines.lib.bulk import copy_stream, insert_rows

ZERO = Decimal("0.00")
_LOAN_COLUMNS = [prestamos.c[field.name] for field in dataclasses.fields(LoanRow)]
# Amounts are compared with a tenth of a cent of slack: exact on PostgreSQL/MySQL (whole cents), and immune
# to the binary floats SQLite stores NUMERIC as.
_TOLERANCE = sa.literal(Decimal("0.001"), sa.Numeric(15, 3))
_HALF = sa.literal(HALF_CENT, sa.Numeric(15, 3))


# ---- reads -------------------------------------------------------------------------------------------------


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
    paid = sa.func.sum(sa.case((_paid_amount() >= _HALF, 1), else_=0))
    query = (
        sa.select(cuotas.c.prestamo_id, sa.func.count(), paid)
        .where(cuotas.c.prestamo_id.between(first_id, last_id))
        .group_by(cuotas.c.prestamo_id)
    )
    return {int(pid): Existing(int(count), bool(paid_rows)) for pid, count, paid_rows in conn.execute(query)}


def approved_ids_after(conn: sa.Connection, seen: int, limit: int) -> tuple[int | None, int | None, int]:
    """(first id, last id, count) of the first ``limit`` approved loans with id > ``seen``."""
    new_ids = (
        sa.select(prestamos.c.id)
        .where(prestamos.c.estado == ESTADO_APROBADO, prestamos.c.id > seen)
        .order_by(prestamos.c.id)
        .limit(limit)
        .subquery()
    )
    query = sa.select(sa.func.min(new_ids.c.id), sa.func.max(new_ids.c.id), sa.func.count()).select_from(
        new_ids
    )
    first, last, count = conn.execute(query).one()
    return first, last, int(count)


def status_counts(conn: sa.Connection) -> dict[str, int]:
    query = sa.select(cuotas.c.estado, sa.func.count()).where(approved_cuotas()).group_by(cuotas.c.estado)
    return {str(estado): int(n) for estado, n in conn.execute(query)}


def cuotas_count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(cuotas)).scalar_one())


def cuotas_in_order() -> sa.Select[Any]:
    """Every installment, by loan and number (for previews)."""
    return cuotas.select().order_by(cuotas.c.prestamo_id, cuotas.c.numero_cuota)


# ---- writes ------------------------------------------------------------------------------------------------


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
    """The rows of :func:`installment_rows` as ``COPY`` text lines, straight from the cents.

    The generic ``lib.bulk`` encoders inspect every value's type; at portfolio scale (millions of rows)
    that costs more than the database's own work, so the one hot path formats its known columns here and
    hands the lines to :func:`lib.bulk.copy_stream`. Values are digits, dates and fixed words: nothing
    needs quoting in the CSV format.
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


def status_sql(as_of: dt.date) -> sa.ColumnElement[str]:
    """:func:`status.installment_status` as a SQL ``CASE`` over ``cuotas`` columns."""
    capital_paid = sa.func.coalesce(cuotas.c.capital_pagado, 0)
    interest_paid = sa.func.coalesce(cuotas.c.interes_pagado, 0)
    return sa.case(
        (
            sa.and_(
                cuotas.c.monto_capital - capital_paid < _HALF, cuotas.c.monto_interes - interest_paid < _HALF
            ),
            sa.literal(Status.PAGADO.value),
        ),
        (cuotas.c.fecha_vencimiento < sa.literal(as_of, sa.Date), sa.literal(Status.ATRASADO.value)),
        (capital_paid + interest_paid >= _HALF, sa.literal(Status.PARCIAL.value)),
        else_=sa.literal(Status.PENDIENTE.value),
    )


def refresh_status(conn: sa.Connection, as_of: dt.date) -> int:
    """Set ``estado`` on every installment of an approved loan whose status changed; returns rows updated."""
    computed = status_sql(as_of)
    statement = (
        sa.update(cuotas)
        .where(approved_cuotas(), sa.or_(cuotas.c.estado.is_(None), cuotas.c.estado != computed))
        .values(estado=computed)
    )
    return conn.execute(statement).rowcount or 0


# ---- the checks' offenders queries (prestamo_id first) ------------------------------------------------------


def _off(expression: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return sa.func.abs(expression) > _TOLERANCE


def capital_not_principal() -> sa.Select[Any]:
    """Loans whose installments' capital does not sum to the principal."""
    capital = sa.func.sum(cuotas.c.monto_capital)
    return (
        sa.select(cuotas.c.prestamo_id, prestamos.c.total_financiamiento, capital.label("capital"))
        .join(prestamos, prestamos.c.id == cuotas.c.prestamo_id)
        .group_by(cuotas.c.prestamo_id, prestamos.c.total_financiamiento)
        .having(_off(capital - prestamos.c.total_financiamiento))
    )


def final_balance_not_zero() -> sa.Select[Any]:
    """Loans whose highest-numbered installment leaves a balance."""
    last = (
        sa.select(cuotas.c.prestamo_id, sa.func.max(cuotas.c.numero_cuota).label("ultima"))
        .group_by(cuotas.c.prestamo_id)
        .subquery()
    )
    return (
        sa.select(cuotas.c.prestamo_id, cuotas.c.numero_cuota, cuotas.c.saldo_capital_final)
        .join(
            last, sa.and_(last.c.prestamo_id == cuotas.c.prestamo_id, last.c.ultima == cuotas.c.numero_cuota)
        )
        .where(_off(cuotas.c.saldo_capital_final))
    )


def cuota_not_capital_plus_interest() -> sa.Select[Any]:
    """Loans with an installment whose monto_cuota is not capital + interest."""
    return (
        sa.select(cuotas.c.prestamo_id, sa.func.count().label("cuotas_mal"))
        .where(_off(cuotas.c.monto_cuota - cuotas.c.monto_capital - cuotas.c.monto_interes))
        .group_by(cuotas.c.prestamo_id)
    )


def due_dates_not_increasing() -> sa.Select[Any]:
    """Loans with an installment due no later than the one before it."""
    following = cuotas.alias("siguiente")
    return (
        sa.select(cuotas.c.prestamo_id, sa.func.min(following.c.numero_cuota).label("primera_cuota_mal"))
        .join(
            following,
            sa.and_(
                following.c.prestamo_id == cuotas.c.prestamo_id,
                following.c.numero_cuota == cuotas.c.numero_cuota + 1,
            ),
        )
        .where(following.c.fecha_vencimiento <= cuotas.c.fecha_vencimiento)
        .group_by(cuotas.c.prestamo_id)
    )


def installment_numbers_broken() -> sa.Select[Any]:
    """Loans whose installment numbers repeat or are not 1..n."""
    return (
        sa.select(
            cuotas.c.prestamo_id,
            sa.func.count().label("filas"),
            sa.func.count(sa.distinct(cuotas.c.numero_cuota)).label("numeros"),
            sa.func.min(cuotas.c.numero_cuota).label("primera"),
            sa.func.max(cuotas.c.numero_cuota).label("ultima"),
        )
        .group_by(cuotas.c.prestamo_id)
        .having(
            sa.or_(
                sa.func.count() != sa.func.count(sa.distinct(cuotas.c.numero_cuota)),
                sa.func.min(cuotas.c.numero_cuota) != 1,
                sa.func.max(cuotas.c.numero_cuota) != sa.func.count(),
            )
        )
    )


def valid_terms_sql() -> sa.ColumnElement[bool]:
    """The terms :func:`amortization.parse_terms` accepts, as SQL (for set-based checks)."""
    return sa.and_(
        prestamos.c.total_financiamiento > 0,
        prestamos.c.numero_cuotas > 0,
        prestamos.c.tasa_interes >= 0,
        prestamos.c.fecha_base_calculo.is_not(None),
        prestamos.c.modalidad_pago.in_([m.value for m in Modality]),
        prestamos.c.metodo_amortizacion.in_([m.value for m in Method]),
    )


def installment_count_wrong() -> sa.Select[Any]:
    """Approved loans with valid terms whose installment count is not numero_cuotas."""
    counts = (
        sa.select(cuotas.c.prestamo_id, sa.func.count().label("n")).group_by(cuotas.c.prestamo_id).subquery()
    )
    existing = sa.func.coalesce(counts.c.n, 0)
    return (
        sa.select(
            prestamos.c.id.label("prestamo_id"),
            prestamos.c.numero_cuotas,
            existing.label("cuotas_existentes"),
        )
        .select_from(prestamos.outerjoin(counts, counts.c.prestamo_id == prestamos.c.id))
        .where(
            prestamos.c.estado == ESTADO_APROBADO, valid_terms_sql(), existing != prestamos.c.numero_cuotas
        )
    )


def _invalid_approved() -> sa.ColumnElement[bool]:
    return sa.and_(prestamos.c.estado == ESTADO_APROBADO, sa.not_(sa.func.coalesce(valid_terms_sql(), False)))


def invalid_terms_count(conn: sa.Connection) -> int:
    query = sa.select(sa.func.count()).select_from(prestamos).where(_invalid_approved())
    return int(conn.execute(query).scalar_one())


def invalid_terms_sample(conn: sa.Connection, limit: int) -> list[LoanRow]:
    """The first ``limit`` approved loans whose terms are invalid, as read."""
    query = sa.select(*_LOAN_COLUMNS).where(_invalid_approved()).order_by(prestamos.c.id).limit(limit)
    return [LoanRow(*row) for row in conn.execute(query)]
