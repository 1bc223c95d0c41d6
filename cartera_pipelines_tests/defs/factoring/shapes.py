"""The factoring API's tables as a real service leaves them, for tests: the sandbox's rows rewritten into
tables whose dates are TIMESTAMP or TIMESTAMPTZ (MariaDB: DATETIME or TIMESTAMP; SQLite: text with a time),
amounts DOUBLE PRECISION, text TEXT and the outbox payload TEXT.

A due date D becomes a moment on D that a UTC reading would get wrong: 23:30 in Santiago (already D+1 in
UTC) for instant types, 18:30 as written for wall-clock ones.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from cartera_pipelines.defs.factoring import tables
from cartera_pipelines.lib.dates import SANTIAGO
from cartera_pipelines.resources.database import create_store_engine

# (engine, instant): the shapes each engine's services produce
SHAPES = [("sqlite", False), ("postgresql", False), ("postgresql", True), ("mysql", False), ("mysql", True)]
SHAPE_IDS = [f"{engine}-{'instant' if instant else 'timestamp'}" for engine, instant in SHAPES]
THEIRS = [t for t in tables.OPERATIONS_TABLES if t is not tables.factura_eventos]  # factura_eventos is ours


def moment_type(dialect: str, instant: bool) -> sa.types.TypeEngine[Any]:
    if dialect == "postgresql":
        return postgresql.TIMESTAMP(timezone=instant)
    if dialect == "mysql":
        return mysql.TIMESTAMP(fsp=6) if instant else mysql.DATETIME(fsp=6)
    return sa.DateTime()


def _moment(value: Any, dialect: str, instant: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):  # one of our stamps (SQLite gives them back naive, in UTC)
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    elif instant:  # a date: a moment on that day
        value = dt.datetime.combine(value, dt.time(23, 30), tzinfo=SANTIAGO)
    else:
        return dt.datetime.combine(value, dt.time(18, 30))  # wall clock, as written
    if instant and dialect != "mysql":
        return value
    # MariaDB TIMESTAMP is inserted with the session at UTC; a wall-clock column gets utcnow()'s reading
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def reshape(url: str, instant: bool) -> None:
    """Rewrite the API's tables in ``url`` (built by the sandbox) with the shapes of a real service."""
    engine = create_store_engine(url)
    dialect = engine.dialect.name
    with engine.connect() as conn:
        data = {
            t.name: [dict(r._mapping) for r in conn.execute(sa.select(t))] for t in tables.OPERATIONS_TABLES
        }
    metadata = sa.MetaData()
    copies = [t.to_metadata(metadata) for t in tables.OPERATIONS_TABLES]
    kinds: dict[str, dict[str, str]] = {}
    for copy in copies:
        if copy.name == tables.factura_eventos.name:
            continue
        kinds[copy.name] = {}
        indexed = {c.name for index in copy.indexes for c in index.columns} | {
            c.name for constraint in copy.constraints for c in getattr(constraint, "columns", [])
        }
        for column in copy.columns:
            if isinstance(column.type, (sa.Date, sa.DateTime)):
                column.type, kinds[copy.name][column.name] = moment_type(dialect, instant), "moment"
            elif isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Integer):
                column.type, kinds[copy.name][column.name] = sa.Double(), "double"
            elif isinstance(column.type, sa.JSON):
                column.type, kinds[copy.name][column.name] = sa.Text(), "json"
            elif isinstance(column.type, sa.String):
                # MariaDB cannot index TEXT: a longer VARCHAR there
                column.type = sa.String(255) if dialect == "mysql" and column.name in indexed else sa.Text()
    with engine.begin() as conn:
        if dialect == "mysql":
            conn.execute(sa.text("SET time_zone = '+00:00'"))
        for copy in reversed(copies):
            copy.drop(conn)
        for copy in copies:
            copy.create(conn)
            rows = [_convert(row, kinds.get(copy.name, {}), dialect, instant) for row in data[copy.name]]
            if rows:
                conn.execute(copy.insert(), rows)
        if dialect == "postgresql":
            for copy in copies:
                if "id" in copy.c and copy.name != "operacion_facturas":
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{copy.name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {copy.name}), 0) + 1, false)"
                        )
                    )
    engine.dispose()


def _convert(row: dict[str, Any], kinds: dict[str, str], dialect: str, instant: bool) -> dict[str, Any]:
    out = dict(row)
    for name, kind in kinds.items():
        value = out[name]
        if kind == "moment":
            out[name] = _moment(value, dialect, instant)
        elif kind == "double" and value is not None:
            out[name] = float(Decimal(value))
        elif kind == "json" and value is not None:
            out[name] = json.dumps(value, ensure_ascii=False)
    return out
