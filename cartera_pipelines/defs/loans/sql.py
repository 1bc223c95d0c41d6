"""Every query and write of the loans family (SQLAlchemy Core, set-based, on the caller's connection).

``prestamos`` and ``cuotas`` are the lender's tables: their columns may be DATE, TIMESTAMP or TIMESTAMPTZ,
NUMERIC, DECIMAL or DOUBLE, text of any length and case. So:

* :func:`check_tables` reflects both tables once per run and fails with one line naming the table, the
  column and what was expected when a column is missing or of a type we cannot read; it also reads the
  ``cuotas`` money columns' limits (a schedule that does not fit is refused per loan, not sent);
* reads select the driver's values untouched (:func:`_raw`) and :mod:`normalise` makes them canonical;
  stored installment amounts come as integer cents cast in SQL (:func:`_cents`);
* ``estado`` is compared trimmed and upper-cased (:func:`approved`), like every other word we read.

Writes: the guarded delete of a schedule being regenerated, the bulk insert (one ``COPY`` of a batch's text through
:func:`lib.bulk.copy_text` on PostgreSQL, batched inserts elsewhere), the status refresh. "Paid" has one
definition, :func:`paid_installment`, used by the reads, the guarded delete and the status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.loans.amortization import CentsRow, due_dates
from cartera_pipelines.defs.loans.normalise import to_count, to_date
from cartera_pipelines.defs.loans.planning import ColumnLimit, Existing, LoanRow, StoredInstallment
from cartera_pipelines.defs.loans.status import HALF_CENT, Status, unpaid_status
from cartera_pipelines.defs.loans.tables import ESTADO_APROBADO, cuotas, prestamos
from cartera_pipelines.defs.loans.terms import LoanTerms
from cartera_pipelines.lib.bulk import copy_text, insert_rows
from cartera_pipelines.lib.dates import BOGOTA

ZERO = Decimal("0.00")
# Amounts are compared with a tenth of a cent of slack: exact on PostgreSQL/MySQL (whole cents), and immune
# to the binary floats SQLite stores NUMERIC as.
_TOLERANCE = sa.literal(Decimal("0.001"), sa.Numeric(15, 3))
_HALF = sa.literal(HALF_CENT, sa.Numeric(15, 3))
_PAID_COLUMNS = ("capital_pagado", "interes_pagado", "mora_pagada", "total_pagado")
MONEY_WRITTEN = (
    "monto_cuota",
    "monto_capital",
    "monto_interes",
    "saldo_capital_inicial",
    "saldo_capital_final",
    "capital_pendiente",
    "interes_pendiente",
)


# ---- the tables as they are ---------------------------------------------------------------------------------


class SourceError(RuntimeError):
    """A column of the lender's tables is missing or of a type we cannot read (one line says which)."""


_DATE = (sa.Date, sa.DateTime, sa.String)
_NUMBER = (sa.Numeric, sa.Integer)
_TEXT = (sa.String,)
_EXPECTED: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "prestamos": {
        "id": ((sa.Integer, sa.Numeric), "the loan id: an integer"),
        "total_financiamiento": (_NUMBER, "the principal: NUMERIC, DECIMAL or DOUBLE"),
        "numero_cuotas": (_NUMBER, "the number of installments: an integer"),
        "tasa_interes": (_NUMBER, "the annual rate in percent: NUMERIC, DECIMAL or DOUBLE"),
        "modalidad_pago": (_TEXT, "MENSUAL, QUINCENAL or SEMANAL as text"),
        "metodo_amortizacion": (_TEXT, "FRANCESA, ALEMANA or AMERICANA as text"),
        "fecha_base_calculo": (_DATE, "the base date: DATE, TIMESTAMP or TIMESTAMPTZ"),
        "estado": (_TEXT, "the loan state as text (APROBADO …)"),
    },
    "cuotas": {
        "prestamo_id": ((sa.Integer, sa.Numeric), "the loan id: an integer"),
        "numero_cuota": ((sa.Integer, sa.Numeric), "the installment number: an integer"),
        "fecha_vencimiento": (_DATE, "the due date: DATE, TIMESTAMP or TIMESTAMPTZ"),
        **{name: ((sa.Numeric,), "an amount: NUMERIC, DECIMAL or DOUBLE") for name in MONEY_WRITTEN},
        **{name: ((sa.Numeric,), "an amount: NUMERIC, DECIMAL or DOUBLE") for name in _PAID_COLUMNS},
        "estado": (_TEXT, "the installment state as text"),
    },
}


@dataclass(frozen=True)
class Target:
    """What the run learned about ``cuotas`` as it is."""

    limits: Mapping[str, ColumnLimit] = field(default_factory=dict)
    """Per money column we write, the largest amount it holds."""
    due_with_zone: bool = False
    """``fecha_vencimiento`` is TIMESTAMPTZ: due dates are written as midnight in Bogotá."""


def _money_limit(table: str, name: str, kind: sa.types.TypeEngine[Any], type_name: str) -> ColumnLimit:
    if isinstance(kind, sa.Float):
        return ColumnLimit(type_name, 10**15)  # a DOUBLE keeps 15 significant digits exactly
    precision, scale = getattr(kind, "precision", None), getattr(kind, "scale", None)
    if scale is not None and scale < 2:
        raise SourceError(
            f"operations table {table}, column {name} is {type_name}: expected 2 decimal places (cents)"
        )
    if precision is None:
        return ColumnLimit(type_name, None)
    return ColumnLimit(type_name, 10 ** (precision - (scale or 0) + 2))


def _type_name(kind: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> str:
    try:
        return str(kind.compile(dialect=dialect))
    except sa.exc.CompileError:  # a type SQLAlchemy only knows as NullType (e.g. SQLite's BLOB)
        return str(kind.__class__.__name__)


def check_tables(conn: sa.Connection) -> Target:
    """Reflect ``prestamos`` and ``cuotas``; fail with one line on a missing or unreadable column."""
    inspector = sa.inspect(conn)
    limits: dict[str, ColumnLimit] = {}
    due_with_zone = False
    for table, expected in _EXPECTED.items():
        if not inspector.has_table(table):
            raise SourceError(
                f"operations table {table} does not exist (expected the lender's {table} table)"
            )
        columns = {c["name"].lower(): c["type"] for c in inspector.get_columns(table)}
        for name, (types, what) in expected.items():
            if name not in columns:
                raise SourceError(f"operations table {table} has no column {name} (expected {what})")
            kind = columns[name]
            type_name = _type_name(kind, conn.dialect)
            # SQLite's declared types are only affinities ("TIMESTAMP WITH TIME ZONE" reflects as NUMERIC):
            # there the values themselves are checked, record by record
            if conn.dialect.name != "sqlite" and not isinstance(kind, types):
                raise SourceError(f"operations table {table}, column {name} is {type_name} (expected {what})")
            if table == "cuotas" and name in MONEY_WRITTEN:
                limits[name] = _money_limit(table, name, kind, type_name)
            if table == "cuotas" and name == "fecha_vencimiento":
                due_with_zone = bool(getattr(kind, "timezone", False))
    return Target(limits, due_with_zone)


def _raw(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The column's value as the driver returns it (no SQLAlchemy type processing: :mod:`normalise` does it)."""
    return sa.type_coerce(column, sa.types.NullType()).label(column.key)


def approved(table: sa.Table = prestamos) -> sa.ColumnElement[bool]:
    """``estado`` is APROBADO, whatever its case and padding."""
    return sa.func.upper(sa.func.trim(table.c.estado)) == ESTADO_APROBADO


def paid_installment(table: sa.FromClause = cuotas) -> sa.ColumnElement[bool]:
    """The one definition of "paid": any of capital, interest, late fees or total paid is at least half a cent."""
    return sa.or_(*(sa.func.coalesce(table.c[name], 0) >= _HALF for name in _PAID_COLUMNS))


# ---- reads ------------------------------------------------------------------------------------------------


_LOAN_COLUMNS = [
    _raw(prestamos.c[name])
    for name in (
        "id",
        "total_financiamiento",
        "numero_cuotas",
        "tasa_interes",
        "modalidad_pago",
        "metodo_amortizacion",
        "fecha_base_calculo",
    )
]


def _loan(row: sa.Row[Any] | tuple[Any, ...]) -> LoanRow:
    return LoanRow(int(row[0]), *row[1:7])


def approved_count(conn: sa.Connection) -> int:
    query = sa.select(sa.func.count()).select_from(prestamos).where(approved())
    return int(conn.execute(query).scalar_one())


def approved_page(conn: sa.Connection, after_id: int, limit: int) -> list[LoanRow]:
    """The next ``limit`` approved loans with id > ``after_id`` (keyset paging: no OFFSET scans)."""
    query = (
        sa.select(*_LOAN_COLUMNS)
        .where(approved(), prestamos.c.id > after_id)
        .order_by(prestamos.c.id)
        .limit(limit)
    )
    return [_loan(row) for row in conn.execute(query)]


def approved_loans(conn: sa.Connection, page_size: int = 10_000) -> Iterator[LoanRow]:
    """Every approved loan, page by page."""
    after_id = 0
    while page := approved_page(conn, after_id, page_size):
        yield from page
        after_id = page[-1].id


def loan_by_id(conn: sa.Connection, prestamo_id: int) -> tuple[LoanRow, str | None] | None:
    """One loan and its ``estado`` (trimmed, upper-case), or ``None`` when there is no such loan."""
    estado = sa.func.upper(sa.func.trim(prestamos.c.estado))
    row = conn.execute(sa.select(*_LOAN_COLUMNS, estado).where(prestamos.c.id == prestamo_id)).first()
    return None if row is None else (_loan(row), row[-1])


def _cents(column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """An amount in integer cents, cast in SQL: exact for NUMERIC/DECIMAL, and a DOUBLE's binary noise
    rounds away (stored amounts are whole cents). Reading millions of rows, integers cost the driver a
    third of what ``Decimal`` objects do."""
    return sa.cast(sa.func.round(column * 100), sa.BigInteger).label(column.key)


_STORED_COLUMNS = [
    cuotas.c.prestamo_id,
    _raw(cuotas.c.numero_cuota),
    _raw(cuotas.c.fecha_vencimiento),
    *(
        _cents(cuotas.c[name])
        for name in (
            "monto_cuota",
            "monto_capital",
            "monto_interes",
            "saldo_capital_inicial",
            "saldo_capital_final",
        )
    ),
    sa.case((paid_installment(), 1), else_=0).label("pagada"),
]


def stored_schedules(conn: sa.Connection, first_id: int, last_id: int) -> dict[int, Existing]:
    """The installments stored for each loan with id in [first_id, last_id], normalised, in number order."""
    query = (
        sa.select(*_STORED_COLUMNS)
        .where(cuotas.c.prestamo_id.between(first_id, last_id))
        .order_by(cuotas.c.prestamo_id, cuotas.c.numero_cuota)
    )
    installments: dict[int, list[StoredInstallment]] = {}
    paid: set[int] = set()
    for loan_id, number, due, cuota, capital, interest, opening, closing, paid_flag in conn.execute(
        query
    ).all():
        installments.setdefault(loan_id, []).append(
            StoredInstallment(to_count(number), to_date(due), cuota, capital, interest, opening, closing)
        )
        if paid_flag:
            paid.add(loan_id)
    return {loan_id: Existing(tuple(rows), loan_id in paid) for loan_id, rows in installments.items()}


def installment_counts(conn: sa.Connection) -> dict[int, int]:
    query = sa.select(cuotas.c.prestamo_id, sa.func.count()).group_by(cuotas.c.prestamo_id)
    return {int(loan_id): int(n) for loan_id, n in conn.execute(query)}


def approved_ids_after(conn: sa.Connection, seen: int, limit: int) -> tuple[int | None, int | None, int]:
    """(first id, last id, count) of the first ``limit`` approved loans with id > ``seen``."""
    new_ids = (
        sa.select(prestamos.c.id)
        .where(approved(), prestamos.c.id > seen)
        .order_by(prestamos.c.id)
        .limit(limit)
    ).subquery()
    query = sa.select(sa.func.min(new_ids.c.id), sa.func.max(new_ids.c.id), sa.func.count()).select_from(
        new_ids
    )
    first, last, count = conn.execute(query).one()
    return first, last, int(count)


def _of_approved_loans() -> sa.ColumnElement[bool]:
    return cuotas.c.prestamo_id.in_(sa.select(prestamos.c.id).where(approved()))


def status_counts(conn: sa.Connection) -> dict[str, int]:
    query = sa.select(cuotas.c.estado, sa.func.count()).where(_of_approved_loans()).group_by(cuotas.c.estado)
    return {str(estado): int(n) for estado, n in conn.execute(query)}


def cuotas_count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(cuotas)).scalar_one())


def cuotas_preview() -> sa.Select[Any]:
    """Every installment as stored, by loan and number (for previews)."""
    return sa.select(*(_raw(c) for c in cuotas.columns)).order_by(cuotas.c.prestamo_id, cuotas.c.numero_cuota)


# ---- writes ------------------------------------------------------------------------------------------------


def delete_unpaid_schedule(conn: sa.Connection, prestamo_id: int, expected: int) -> int:
    """Delete a loan's schedule only if, in this very statement, nothing of it is paid and it still has
    ``expected`` installments; returns the rows deleted (``expected``, or 0 when it changed meanwhile).

    The inner reads go through derived tables: MySQL/MariaDB refuse a subquery on the table a DELETE
    targets unless it is materialised.
    """
    inner = cuotas.alias("actual")
    mine = inner.c.prestamo_id == prestamo_id
    count = sa.select(sa.func.count().label("n")).where(mine).subquery("contadas")
    paid = sa.select(inner.c.id).where(mine, paid_installment(inner)).subquery("pagadas")
    statement = sa.delete(cuotas).where(
        cuotas.c.prestamo_id == prestamo_id,
        sa.select(count.c.n).scalar_subquery() == expected,
        ~sa.exists(sa.select(paid.c.id)),
    )
    return conn.execute(statement).rowcount or 0


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def installment_rows(
    prestamo_id: int, terms: LoanTerms, rows: Sequence[CentsRow], as_of: dt.date
) -> Iterator[dict[str, Any]]:
    """``cuotas`` rows of a freshly generated schedule: nothing paid, estado as of ``as_of``."""
    dates = due_dates(terms.base_date, terms.modality, terms.installments)
    for k, (capital, interest, balance) in enumerate(rows, start=1):
        yield {
            "prestamo_id": prestamo_id,
            "numero_cuota": k,
            "fecha_vencimiento": dates[k - 1],
            "monto_cuota": _money(capital + interest),
            "monto_capital": _money(capital),
            "monto_interes": _money(interest),
            "saldo_capital_inicial": _money(balance),
            "saldo_capital_final": _money(balance - capital),
            "capital_pagado": ZERO,
            "interes_pagado": ZERO,
            "mora_pagada": ZERO,
            "total_pagado": ZERO,
            "capital_pendiente": _money(capital),
            "interes_pendiente": _money(interest),
            "estado": unpaid_status(dates[k - 1], capital == 0 and interest == 0, as_of).value,
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
def _date_texts(terms_dates: tuple[dt.date, ...], with_zone: bool) -> tuple[str, ...]:
    if with_zone:  # a TIMESTAMPTZ column: the due day is midnight in Bogotá, whatever the session's zone
        return tuple(dt.datetime.combine(day, dt.time(), BOGOTA).isoformat() for day in terms_dates)
    return tuple(day.isoformat() for day in terms_dates)


def copy_lines(
    prestamo_id: int, terms: LoanTerms, rows: Sequence[CentsRow], as_of: dt.date, with_zone: bool = False
) -> Iterator[str]:
    """The rows of :func:`installment_rows` as ``COPY`` text lines, straight from the cents.

    The generic ``lib.bulk`` encoders inspect every value's type; at portfolio scale (millions of rows)
    that costs more than the database's own work, so the one hot path formats its known columns here and
    joins the lines for :func:`lib.bulk.copy_text`. Values are digits, dates and fixed words: nothing
    needs escaping in COPY's text format.
    """
    dates = due_dates(terms.base_date, terms.modality, terms.installments)
    texts = _date_texts(dates, with_zone)
    for k, (capital, interest, balance) in enumerate(rows, start=1):
        estado = unpaid_status(dates[k - 1], capital == 0 and interest == 0, as_of).value
        capital_text, interest_text = _money_text(capital), _money_text(interest)
        yield (
            f"{prestamo_id}\t{k}\t{texts[k - 1]}\t{_money_text(capital + interest)}\t{capital_text}\t"
            f"{interest_text}\t{_money_text(balance)}\t{_money_text(balance - capital)}\t0.00\t0.00\t0.00\t0.00\t"
            f"{capital_text}\t{interest_text}\t{estado}\n"
        )


ScheduleToWrite = tuple[int, LoanTerms, Sequence[CentsRow]]
"""``(prestamo_id, terms, the engine's rows in cents)``."""


def write_schedules(
    conn: sa.Connection, schedules: Sequence[ScheduleToWrite], as_of: dt.date, target: Target = Target()
) -> int:
    """Insert new schedules: one ``COPY`` on PostgreSQL, batched inserts elsewhere; returns rows written."""
    if not schedules:
        return 0
    if conn.dialect.name != "postgresql":
        rows = (
            row
            for loan_id, terms, cents in schedules
            for row in installment_rows(loan_id, terms, cents, as_of)
        )
        return insert_rows(conn, cuotas, rows)
    copy_text(conn, cuotas.name, COPY_COLUMNS, copy_text_of(schedules, as_of, target))
    return sum(len(cents) for _, _, cents in schedules)


def copy_text_of(schedules: Sequence[ScheduleToWrite], as_of: dt.date, target: Target = Target()) -> str:
    """The COPY text of new schedules, built in one piece (:func:`write_schedules` and
    ``lib.bulk.BackgroundCommits`` send it)."""
    return "".join(
        [
            line
            for loan_id, terms, cents in schedules
            for line in copy_lines(loan_id, terms, cents, as_of, target.due_with_zone)
        ]
    )


def status_sql(as_of: dt.date) -> sa.ColumnElement[str]:
    """The installment status rule (:mod:`status`) as a SQL ``CASE`` over ``cuotas`` columns."""
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
        (paid_installment(), sa.literal(Status.PARCIAL.value)),
        else_=sa.literal(Status.PENDIENTE.value),
    )


def refresh_status(conn: sa.Connection, as_of: dt.date, only: int | None = None) -> int:
    """Set ``estado`` on every installment of an approved loan (or of loan ``only``) whose status changed."""
    computed = status_sql(as_of)
    which = _of_approved_loans() if only is None else cuotas.c.prestamo_id == only
    statement = (
        sa.update(cuotas)
        .where(which, sa.or_(cuotas.c.estado.is_(None), cuotas.c.estado != computed))
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
        sa.select(cuotas.c.prestamo_id, _raw(prestamos.c.total_financiamiento), capital.label("capital"))
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
        sa.select(cuotas.c.prestamo_id, cuotas.c.numero_cuota, _raw(cuotas.c.saldo_capital_final))
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


def loans_with_counts(conn: sa.Connection) -> tuple[Iterable[LoanRow], dict[int, int]]:
    """Every approved loan (as read) and each loan's installment count (for the reporting checks)."""
    return list(approved_loans(conn)), installment_counts(conn)
