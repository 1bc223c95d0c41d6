"""Every query and write of the collections family: set-based SQL, streamed reads, bulk writes.

The tables are not ours (lending is read-only, operations is shared), so they are read as they are: each
function first reflects the columns it uses (:func:`source`), fails with one line naming table, column and
expectation when one is missing or of an unusable type, and then queries untyped columns, so every value
reaches ``normalize.py`` as the driver returns it. Writes put a day into each column in that column's own
type (``normalize.day_value``).

Every function takes the caller's connection; :func:`write_plan` runs inside the caller's transaction,
so the deletes, the inserts and the history rows of a run commit together or not at all. The checks'
offenders queries live here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.collections import normalize
from cartera_pipelines.defs.collections.assignment import AssignmentPlan, AssignmentRules, Holding
from cartera_pipelines.defs.collections.normalize import Complaints, Kind, SourceSchemaError, SourceValueError
from cartera_pipelines.defs.collections.tables import (
    contract_advisors,
    contract_advisors_history,
    contract_amortization,
    contract_status,
    managements,
)
from cartera_pipelines.lib.bulk import copy_stream, insert_rows
from cartera_pipelines.lib.progress import Progress

ACTIVE_STATUS = "ACTIVO"
STREAM_BATCH = 50_000
IN_CHUNK = 5_000
# Per statement, never on the connection: Connection.execution_options() changes the connection itself,
# and a server-side cursor for the later DELETE/UPDATE statements would fail on PostgreSQL.
STREAMED = {"stream_results": True, "yield_per": STREAM_BATCH}
# The columns we use of each table (their expected kind comes from the type tables.py declares).
USED: dict[sa.Table, tuple[str, tuple[str, ...]]] = {
    contract_status: ("lending", ("contract_id", "status")),
    contract_amortization: ("lending", ("contract_id", "payment_date", "pending_balance")),
    managements: ("operations", ("id", "contract_id", "user_id", "effect", "management_date")),
    contract_advisors: ("operations", ("contract_id", "user_id", "assigned_date")),
    contract_advisors_history: ("operations", ("contract_id", "user_id", "fecha_inicial", "fecha_terminal")),
}

Warn = Callable[[str], Any]


class StoreChangedError(RuntimeError):
    """The operations store changed between reading the assignments and writing the plan."""


@dataclass(frozen=True)
class Source:
    """A table we do not own as we found it: untyped columns to query, each column's kind."""

    store: str
    table: sa.TableClause
    kinds: dict[str, Kind]
    dialect: str

    @property
    def c(self) -> Any:
        return self.table.c

    def where(self, column: str) -> str:
        return f"{self.store} table {self.table.name}, column {column}"


def source(conn: sa.Connection, declared: sa.Table) -> Source:
    """Reflect ``declared``'s table on ``conn`` and check the columns we use are there and readable."""
    store, names = USED[declared]
    dialect = conn.dialect.name
    try:
        found = {column["name"].lower(): column for column in sa.inspect(conn).get_columns(declared.name)}
    except sa.exc.NoSuchTableError:
        found = {}
    if not found:
        raise SourceSchemaError(
            f"{store} table {declared.name}: not found (expected columns {', '.join(names)})"
        )
    kinds: dict[str, Kind] = {}
    for name in names:
        expectation = normalize.expectation_of(declared.c[name].type)
        _, wanted = normalize.EXPECTED[expectation]
        column = found.get(name)
        if column is None:
            raise SourceSchemaError(
                f"{store} table {declared.name}, column {name}: expected {wanted}, found none"
            )
        kind = normalize.kind_of(column["type"])
        if kind is None or not normalize.accepts(expectation, kind, dialect):
            raise SourceSchemaError(
                f"{store} table {declared.name}, column {name}: expected {wanted}, found {column['type']}"
            )
        kinds[name] = kind
    table = sa.table(declared.name, *(sa.column(name) for name in names))
    return Source(store=store, table=table, kinds=kinds, dialect=dialect)


# --- reads ------------------------------------------------------------------------------------------------


def arrears_query(amortization: Source, status: Source, as_of: dt.date) -> sa.Select:
    """Oldest unpaid overdue installment per ``ACTIVO`` contract (the day count is done by the caller,
    which keeps the SQL identical on SQLite, MySQL and PostgreSQL)."""
    installment, contract = amortization.c, status.c
    before = normalize.day_bound(amortization.kinds["payment_date"], amortization.dialect, as_of)
    return (
        sa.select(installment.contract_id, sa.func.min(installment.payment_date).label("oldest_unpaid"))
        .select_from(amortization.table.join(status.table, contract.contract_id == installment.contract_id))
        .where(
            contract.status == ACTIVE_STATUS,
            installment.payment_date < before,
            installment.pending_balance > 0,
        )
        .group_by(installment.contract_id)
        # MySQL/MariaDB otherwise start from contract_status and dive into the installments' index per
        # contract, fetching each row for pending_balance: twice as slow as one scan of the installments
        # at a million contracts (measured, benchmarks/collections_assignment.py). Other dialects ignore it.
        .prefix_with("STRAIGHT_JOIN", dialect="mysql")
    )


def _days_in_sql(amortization: Source, status: Source) -> bool:
    """MySQL/MariaDB, a DATE due date and integer ids: the server counts the days (``DATEDIFF``) and the
    rows arrive as two ints, the column types guaranteeing what normalising each value would check."""
    return (
        amortization.dialect == "mysql"
        and amortization.kinds["payment_date"] == Kind.DATE
        and amortization.kinds["contract_id"] == Kind.INTEGER
        and status.kinds["contract_id"] == Kind.INTEGER
    )


def read_arrears(conn: sa.Connection, as_of: dt.date, progress: Progress | None = None) -> dict[int, int]:
    """Days overdue as of ``as_of`` of every ``ACTIVO`` contract with an overdue unpaid installment.

    An unreadable due date stops the run (before anything is written): guessing a contract's arrears
    could take it from its house.
    """
    amortization, status = source(conn, contract_amortization), source(conn, contract_status)
    query = arrears_query(amortization, status, as_of)
    arrears: dict[int, int] = {}
    if _days_in_sql(amortization, status):
        oldest = query.selected_columns.oldest_unpaid
        days = sa.func.datediff(sa.literal(as_of, sa.Date()), oldest.element).label("days")
        query = query.with_only_columns(query.selected_columns.contract_id, days)
        for partition in conn.execute(query, execution_options=STREAMED).partitions():
            arrears.update(partition)  # type: ignore[arg-type]  # rows of (int, int): no loop in Python
            if progress is not None:
                progress.update(len(arrears))
        if None in arrears.values():  # a zero or invalid DATE (MariaDB without strict mode): DATEDIFF is NULL
            contract = next(c for c, d in arrears.items() if d is None)
            raise SourceValueError(
                f"{amortization.where('payment_date')}: expected a date, found an invalid DATE (contract {contract})"
            )
    else:
        as_of_ordinal = as_of.toordinal()
        to_date, to_int = normalize.to_date, normalize.to_int
        for partition in conn.execute(query, execution_options=STREAMED).partitions():
            for contract_id, oldest in partition:
                day = oldest if type(oldest) is dt.date else to_date(oldest)
                if day is None:
                    raise SourceValueError(
                        f"{amortization.where('payment_date')}: expected a date, found {oldest!r} "
                        f"(contract {contract_id})"
                    )
                arrears[to_int(contract_id)] = as_of_ordinal - day.toordinal()
            if progress is not None:
                progress.update(len(arrears))
    if progress is not None:
        progress.finish()
    return arrears


@dataclass(frozen=True, slots=True)
class FixedManagement:
    user_id: int
    management_date: dt.date | None
    """Bogotá's wall time (a naive datetime, or a date); ``None`` when unreadable."""


def read_fixed(
    conn: sa.Connection, rules: AssignmentRules, warn: Warn | None = None
) -> dict[int, FixedManagement]:
    """Contract → its latest management with the fixed effect by a house user (the latest one wins)."""
    managed = source(conn, managements)
    columns = managed.c
    query = (
        sa.select(columns.contract_id, columns.user_id, columns.management_date)
        .where(columns.effect == rules.fixed_effect, columns.user_id.in_(rules.house_ids))
        .order_by(columns.contract_id, columns.management_date, columns.id)
    )
    complaints = Complaints(warn)
    fixed: dict[int, FixedManagement] = {}
    for partition in conn.execute(query, execution_options=STREAMED).partitions():
        for contract_id, user_id, when in partition:
            local = normalize.to_local(when)
            if local is None:
                complaints.add(
                    f"{managed.where('management_date')}: unreadable {when!r} (contract {contract_id})"
                )
            fixed[normalize.to_int(contract_id)] = FixedManagement(normalize.to_int(user_id), local)
    complaints.finish(managed.where("management_date"))
    return fixed


def read_holdings(conn: sa.Connection, warn: Warn | None = None) -> list[Holding]:
    """Every current row of ``contract_advisors`` (an unreadable ``assigned_date`` counts as the oldest)."""
    advisors = source(conn, contract_advisors)
    query = sa.select(advisors.c.contract_id, advisors.c.user_id, advisors.c.assigned_date)
    to_date, to_int = normalize.to_date, normalize.to_int
    complaints = Complaints(warn)
    out: list[Holding] = []
    for partition in conn.execute(query, execution_options=STREAMED).partitions():
        for contract_id, user_id, assigned in partition:
            day = assigned if type(assigned) is dt.date else to_date(assigned)
            if day is None:
                complaints.add(
                    f"{advisors.where('assigned_date')}: unreadable {assigned!r} (contract {contract_id})"
                )
                day = dt.date.min
            out.append(Holding(to_int(contract_id), to_int(user_id), day))
    complaints.finish(advisors.where("assigned_date"))
    return out


# --- the write ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteCounts:
    deleted: int
    inserted: int
    history_closed: int
    history_opened: int


def _chunks(values: Iterable[int], size: int = IN_CHUNK) -> Iterator[list[int]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _delete_assignments(conn: sa.Connection, advisors: Source, plan: AssignmentPlan) -> int:
    by_user: dict[int, list[int]] = {}
    for change in plan.removals:
        by_user.setdefault(change.user_id, []).append(change.contract_id)
    statement = sa.delete(advisors.table).where(
        advisors.c.user_id == sa.bindparam("u"),
        advisors.c.contract_id.in_(sa.bindparam("ids", expanding=True)),
    )
    deleted = 0
    for user_id, contract_ids in by_user.items():
        for chunk in _chunks(contract_ids):
            deleted += conn.execute(statement, {"u": user_id, "ids": chunk}).rowcount
    if deleted != len(plan.removals):
        raise StoreChangedError(
            f"contract_advisors changed during the run: {len(plan.removals)} removals planned, {deleted} rows matched"
        )
    return deleted


def _insert_assignments(conn: sa.Connection, advisors: Source, plan: AssignmentPlan) -> int:
    assigned = normalize.day_value(advisors.kinds["assigned_date"], advisors.dialect, plan.as_of)
    if advisors.dialect == "postgresql":
        # The rows are ours (ints, one day for all): COPY text straight from them, no per-value encoders.
        day = assigned.isoformat()
        pieces = (
            "".join([f"{c.contract_id}\t{c.user_id}\t{day}\n" for c in plan.additions[i : i + IN_CHUNK]])
            for i in range(0, len(plan.additions), IN_CHUNK)
        )
        copy_stream(conn, advisors.table.name, ("contract_id", "user_id", "assigned_date"), pieces)
        return len(plan.additions)
    rows = (
        {"contract_id": c.contract_id, "user_id": c.user_id, "assigned_date": assigned}
        for c in plan.additions
    )
    return insert_rows(conn, advisors.table, rows)


def _close_history(
    conn: sa.Connection, history: Source, advisors: Source, as_of: dt.date, house_ids: Sequence[int]
) -> int:
    """Close every open history row of a house whose assignment no longer exists (one statement)."""
    still_held = sa.exists().where(
        advisors.c.contract_id == history.c.contract_id, advisors.c.user_id == history.c.user_id
    )
    statement = (
        sa.update(history.table)
        .where(history.c.fecha_terminal.is_(None), history.c.user_id.in_(house_ids), ~still_held)
        .values(fecha_terminal=normalize.day_value(history.kinds["fecha_terminal"], history.dialect, as_of))
    )
    return conn.execute(statement).rowcount


def _open_history(conn: sa.Connection, history: Source, advisors: Source, house_ids: Sequence[int]) -> int:
    """Open a history row for every house assignment without one (new ones, and legacy gaps): its start
    is the assignment's own date, converted by the server when the two columns' types differ."""
    has_open = sa.exists().where(
        history.c.contract_id == advisors.c.contract_id,
        history.c.user_id == advisors.c.user_id,
        history.c.fecha_terminal.is_(None),
    )
    rows = sa.select(advisors.c.contract_id, advisors.c.user_id, advisors.c.assigned_date).where(
        advisors.c.user_id.in_(house_ids), ~has_open
    )
    statement = sa.insert(history.table).from_select(["contract_id", "user_id", "fecha_inicial"], rows)
    return conn.execute(statement).rowcount


def write_plan(conn: sa.Connection, plan: AssignmentPlan) -> WriteCounts:
    """Apply ``plan`` on the caller's transaction: deletes, inserts, then history closed and opened."""
    advisors, history = source(conn, contract_advisors), source(conn, contract_advisors_history)
    if conn.dialect.name == "postgresql":
        # Conversions between DATE and TIMESTAMPTZ (history rows copied from the assignments) happen in
        # Bogotá's calendar, not the session's zone; LOCAL: only for this transaction.
        conn.execute(sa.text("SET LOCAL TIME ZONE 'America/Bogota'"))
    deleted = _delete_assignments(conn, advisors, plan)
    inserted = _insert_assignments(conn, advisors, plan)
    closed = _close_history(conn, history, advisors, plan.as_of, plan.rules.house_ids)
    opened = _open_history(conn, history, advisors, plan.rules.house_ids)
    return WriteCounts(deleted=deleted, inserted=inserted, history_closed=closed, history_opened=opened)


# --- the checks' offenders queries -------------------------------------------------------------------------


def contracts_held_twice(conn: sa.Connection) -> sa.Select:
    advisors = source(conn, contract_advisors)
    return (
        sa.select(advisors.c.contract_id, sa.func.count().label("holders"))
        .select_from(advisors.table)
        .group_by(advisors.c.contract_id)
        .having(sa.func.count() > 1)
    )


def history_offenders(conn: sa.Connection, house_ids: Sequence[int]) -> sa.CompoundSelect:
    """House assignments without exactly one open history row, and open rows without their assignment."""
    advisors, history = source(conn, contract_advisors), source(conn, contract_advisors_history)
    open_rows = (
        sa.select(history.c.contract_id, history.c.user_id, sa.func.count().label("n"))
        .where(history.c.fecha_terminal.is_(None), history.c.user_id.in_(house_ids))
        .group_by(history.c.contract_id, history.c.user_id)
        .subquery()
    )
    open_count = sa.func.coalesce(open_rows.c.n, 0)
    without_one = (
        sa.select(
            advisors.c.contract_id,
            advisors.c.user_id,
            sa.literal("no single open row").label("problem"),
            open_count.label("open_rows"),
        )
        .select_from(
            advisors.table.outerjoin(
                open_rows,
                sa.and_(
                    open_rows.c.contract_id == advisors.c.contract_id,
                    open_rows.c.user_id == advisors.c.user_id,
                ),
            )
        )
        .where(advisors.c.user_id.in_(house_ids), open_count != 1)
    )
    still_held = sa.exists().where(
        advisors.c.contract_id == history.c.contract_id, advisors.c.user_id == history.c.user_id
    )
    orphans = sa.select(
        history.c.contract_id,
        history.c.user_id,
        sa.literal("open row without assignment").label("problem"),
        sa.literal(1),
    ).where(history.c.fecha_terminal.is_(None), history.c.user_id.in_(house_ids), ~still_held)
    return sa.union_all(without_one, orphans)
