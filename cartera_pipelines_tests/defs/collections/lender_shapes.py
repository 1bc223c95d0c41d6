"""The lender's tables as the real systems create them, filled with the sandbox's rows.

The sandbox creates the collections tables with the types ``tables.py`` declares (DATE, NUMERIC(15,2),
VARCHAR). The lender's services created theirs from their own models: every date is a TIMESTAMP (or a
TIMESTAMPTZ on PostgreSQL) holding ``datetime.now()``, amounts are DOUBLE PRECISION, text is TEXT. These
helpers copy a sandbox's rows into tables of that shape, with a time of day on every date, so a test can
run the assignment on the real shapes and compare it with the same data in the sandbox's shapes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.collections.tables import (
    contract_advisors,
    contract_advisors_history,
    contract_amortization,
    contract_status,
    managements,
)
from cartera_pipelines.lib.dates import BOGOTA

TIME_OF_DAY = dt.time(11, 10, 43)
"""What a service writing ``datetime.now()`` leaves in a date column: the day, and the time it ran."""


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)


def lender_tables(
    moment: sa.types.TypeEngine[Any], history: sa.types.TypeEngine[Any] | None = None
) -> sa.MetaData:
    """The five tables with ``moment`` for every date (``history`` for the history's two, if given)."""
    history = history if history is not None else moment
    metadata = sa.MetaData()
    sa.Table(
        "contract_status",
        metadata,
        sa.Column("contract_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("status", sa.Text, nullable=False),
    )
    sa.Table(
        "contract_amortization",
        metadata,
        _id(),
        sa.Column("contract_id", sa.BigInteger, nullable=False),
        sa.Column("payment_date", moment, nullable=False),
        sa.Column("pending_balance", sa.Double, nullable=False),
    )
    sa.Table(
        "managements",
        metadata,
        _id(),
        sa.Column("contract_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("effect", sa.Text, nullable=False),
        sa.Column("management_date", moment, nullable=False),
    )
    sa.Table(
        "contract_advisors",
        metadata,
        _id(),
        sa.Column("contract_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("assigned_date", moment, nullable=False),
    )
    sa.Table(
        "contract_advisors_history",
        metadata,
        _id(),
        sa.Column("contract_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("fecha_inicial", history, nullable=False),
        sa.Column("fecha_terminal", history, nullable=True),
    )
    return metadata


def _moment(kind: sa.types.TypeEngine[Any], dialect: str) -> Callable[[Any], Any]:
    """A sandbox value (date or datetime) → what the lender's service stored in a column of ``kind``."""

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
            return value.isoformat() if dialect == "sqlite" else value
        else:
            moment = dt.datetime.combine(value, TIME_OF_DAY)
        if getattr(kind, "timezone", False):
            moment = moment.replace(tzinfo=BOGOTA)
        if dialect == "sqlite":  # the text Python's sqlite3 adapter and most services write
            return moment.isoformat(sep=" ")
        return moment

    return convert


def copy_sandbox(source_url: str, target_url: str, metadata: sa.MetaData) -> None:
    """Create ``metadata``'s tables on ``target_url`` and copy every row of the sandbox at ``source_url``."""
    source, target = sa.create_engine(source_url), sa.create_engine(target_url)
    try:
        with target.begin() as conn:
            metadata.drop_all(conn)
            metadata.create_all(conn)
        for typed in (
            contract_status,
            contract_amortization,
            managements,
            contract_advisors,
            contract_advisors_history,
        ):
            shaped = metadata.tables[typed.name]
            converters = {
                column.name: _moment(column.type, target.dialect.name)
                for column in shaped.columns
                if isinstance(column.type, (sa.Date, sa.DateTime))
            }
            with source.connect() as conn:
                rows = [dict(row._mapping) for row in conn.execute(sa.select(typed))]
            for row in rows:
                row.pop("id", None)  # the target numbers its rows (its sequences stay right)
                for name, convert in converters.items():
                    row[name] = convert(row[name])
                if "pending_balance" in row:
                    row["pending_balance"] = float(row["pending_balance"])
            _insert(target, shaped, rows)
    finally:
        source.dispose()
        target.dispose()


def _insert(engine: sa.Engine, table: sa.Table, rows: Iterable[dict[str, Any]]) -> None:
    # untyped columns: the values go to the driver as they are (text on SQLite, datetimes elsewhere)
    untyped = sa.table(table.name, *(sa.column(c.name) for c in table.columns))
    rows = list(rows)
    with engine.begin() as conn:
        for start in range(0, len(rows), 5_000):
            conn.execute(untyped.insert(), rows[start : start + 5_000])
