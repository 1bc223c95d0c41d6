"""Every query and write of the collections family: set-based SQL, streamed reads, bulk writes.

Every function takes the caller's connection; :func:`write_plan` runs inside the caller's transaction,
so the deletes, the inserts and the history rows of a run commit together or not at all. The checks'
offenders queries live here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import sqlalchemy as sa

from cartera_pipelines.defs.collections.assignment import AssignmentPlan, AssignmentRules, Holding
from cartera_pipelines.defs.collections.tables import (
    contract_advisors,
    contract_advisors_history,
    contract_amortization,
    contract_status,
    managements,
)
from cartera_pipelines.lib.bulk import insert_rows
from cartera_pipelines.lib.progress import Progress

ACTIVE_STATUS = "ACTIVO"
STREAM_BATCH = 50_000
IN_CHUNK = 5_000
# Per statement, never on the connection: Connection.execution_options() changes the connection itself,
# and a server-side cursor for the later DELETE/UPDATE statements would fail on PostgreSQL.
STREAMED = {"stream_results": True, "yield_per": STREAM_BATCH}


class StoreChangedError(RuntimeError):
    """The operations store changed between reading the assignments and writing the plan."""


def arrears_query(as_of: dt.date) -> sa.Select:
    """Oldest unpaid overdue installment per ``ACTIVO`` contract (the day count is done by the caller,
    which keeps the SQL identical on SQLite, MySQL and PostgreSQL)."""
    a, s = contract_amortization, contract_status
    return (
        sa.select(a.c.contract_id, sa.func.min(a.c.payment_date).label("oldest_unpaid"))
        .select_from(a.join(s, s.c.contract_id == a.c.contract_id))
        .where(s.c.status == ACTIVE_STATUS, a.c.payment_date < as_of, a.c.pending_balance > 0)
        .group_by(a.c.contract_id)
        # MySQL/MariaDB otherwise start from contract_status and dive into the installments' index per
        # contract, fetching each row for pending_balance: twice as slow as one scan of the installments
        # at a million contracts (measured, benchmarks/collections_assignment.py). Other dialects ignore it.
        .prefix_with("STRAIGHT_JOIN", dialect="mysql")
    )


def read_arrears(conn: sa.Connection, as_of: dt.date, progress: Progress | None = None) -> dict[int, int]:
    """Days overdue as of ``as_of`` of every ``ACTIVO`` contract with an overdue unpaid installment."""
    as_of_ordinal = as_of.toordinal()
    arrears: dict[int, int] = {}
    result = conn.execute(arrears_query(as_of), execution_options=STREAMED)
    for partition in result.partitions():
        for contract_id, oldest in partition:
            if isinstance(oldest, str):  # a driver that hands dates back as text
                oldest = dt.date.fromisoformat(oldest[:10])
            elif isinstance(oldest, dt.datetime):
                oldest = oldest.date()
            arrears[int(contract_id)] = as_of_ordinal - oldest.toordinal()
        if progress is not None:
            progress.update(len(arrears))
    if progress is not None:
        progress.finish()
    return arrears


@dataclass(frozen=True, slots=True)
class FixedManagement:
    user_id: int
    management_date: dt.datetime


def read_fixed(conn: sa.Connection, rules: AssignmentRules) -> dict[int, FixedManagement]:
    """Contract → its latest management with the fixed effect by a house user (the latest one wins)."""
    m = managements
    query = (
        sa.select(m.c.contract_id, m.c.user_id, m.c.management_date)
        .where(m.c.effect == rules.fixed_effect, m.c.user_id.in_(rules.house_ids))
        .order_by(m.c.contract_id, m.c.management_date, m.c.id)
    )
    fixed: dict[int, FixedManagement] = {}
    for partition in conn.execute(query, execution_options=STREAMED).partitions():
        for contract_id, user_id, when in partition:
            fixed[int(contract_id)] = FixedManagement(int(user_id), when)
    return fixed


def read_holdings(conn: sa.Connection) -> list[Holding]:
    """Every current row of ``contract_advisors``."""
    ca = contract_advisors
    query = sa.select(ca.c.contract_id, ca.c.user_id, ca.c.assigned_date)
    out: list[Holding] = []
    for partition in conn.execute(query, execution_options=STREAMED).partitions():
        out.extend(Holding(int(c), int(u), d) for c, u, d in partition)
    return out


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


def _delete_assignments(conn: sa.Connection, plan: AssignmentPlan) -> int:
    ca = contract_advisors
    by_user: dict[int, list[int]] = {}
    for change in plan.removals:
        by_user.setdefault(change.user_id, []).append(change.contract_id)
    statement = sa.delete(ca).where(
        ca.c.user_id == sa.bindparam("u"), ca.c.contract_id.in_(sa.bindparam("ids", expanding=True))
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


def _insert_assignments(conn: sa.Connection, plan: AssignmentPlan) -> int:
    return insert_rows(
        conn,
        contract_advisors,
        (
            {"contract_id": c.contract_id, "user_id": c.user_id, "assigned_date": plan.as_of}
            for c in plan.additions
        ),
    )


def _close_history(conn: sa.Connection, as_of: dt.date, house_ids: Sequence[int]) -> int:
    """Close every open history row of a house whose assignment no longer exists (one statement)."""
    h, ca = contract_advisors_history, contract_advisors
    still_held = sa.exists().where(ca.c.contract_id == h.c.contract_id, ca.c.user_id == h.c.user_id)
    statement = (
        sa.update(h)
        .where(h.c.fecha_terminal.is_(None), h.c.user_id.in_(house_ids), ~still_held)
        .values(fecha_terminal=as_of)
    )
    return conn.execute(statement).rowcount


def _open_history(conn: sa.Connection, house_ids: Sequence[int]) -> int:
    """Open a history row for every house assignment without one (new ones, and legacy gaps)."""
    h, ca = contract_advisors_history, contract_advisors
    has_open = sa.exists().where(
        h.c.contract_id == ca.c.contract_id, h.c.user_id == ca.c.user_id, h.c.fecha_terminal.is_(None)
    )
    source = sa.select(ca.c.contract_id, ca.c.user_id, ca.c.assigned_date).where(
        ca.c.user_id.in_(house_ids), ~has_open
    )
    statement = sa.insert(h).from_select(["contract_id", "user_id", "fecha_inicial"], source)
    return conn.execute(statement).rowcount


def write_plan(conn: sa.Connection, plan: AssignmentPlan) -> WriteCounts:
    """Apply ``plan`` on the caller's transaction: deletes, inserts, then history closed and opened."""
    deleted = _delete_assignments(conn, plan)
    inserted = _insert_assignments(conn, plan)
    closed = _close_history(conn, plan.as_of, plan.rules.house_ids)
    opened = _open_history(conn, plan.rules.house_ids)
    return WriteCounts(deleted=deleted, inserted=inserted, history_closed=closed, history_opened=opened)


# --- the checks' offenders queries -------------------------------------------------------------------------


def contracts_held_twice() -> sa.Select:
    ca = contract_advisors
    return (
        sa.select(ca.c.contract_id, sa.func.count().label("holders"))
        .group_by(ca.c.contract_id)
        .having(sa.func.count() > 1)
    )


def history_offenders(house_ids: Sequence[int]) -> sa.CompoundSelect:
    """House assignments without exactly one open history row, and open rows without their assignment."""
    ca, h = contract_advisors, contract_advisors_history
    open_rows = (
        sa.select(h.c.contract_id, h.c.user_id, sa.func.count().label("n"))
        .where(h.c.fecha_terminal.is_(None), h.c.user_id.in_(house_ids))
        .group_by(h.c.contract_id, h.c.user_id)
        .subquery()
    )
    open_count = sa.func.coalesce(open_rows.c.n, 0)
    without_one = (
        sa.select(
            ca.c.contract_id,
            ca.c.user_id,
            sa.literal("no single open row").label("problem"),
            open_count.label("open_rows"),
        )
        .select_from(
            ca.outerjoin(
                open_rows,
                sa.and_(open_rows.c.contract_id == ca.c.contract_id, open_rows.c.user_id == ca.c.user_id),
            )
        )
        .where(ca.c.user_id.in_(house_ids), open_count != 1)
    )
    still_held = sa.exists().where(ca.c.contract_id == h.c.contract_id, ca.c.user_id == h.c.user_id)
    orphans = sa.select(
        h.c.contract_id,
        h.c.user_id,
        sa.literal("open row without assignment").label("problem"),
        sa.literal(1),
    ).where(h.c.fecha_terminal.is_(None), h.c.user_id.in_(house_ids), ~still_held)
    return sa.union_all(without_one, orphans)
