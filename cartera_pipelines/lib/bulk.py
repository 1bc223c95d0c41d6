"""Bulk writes: PostgreSQL ``COPY`` where available, batched multi-row inserts elsewhere.

Both run on the caller's connection, inside the caller's transaction, so a failure rolls back with
everything else the asset wrote.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import chain, islice
from typing import Any

import sqlalchemy as sa

DEFAULT_BATCH = 10_000


def _copy_value(value: Any) -> Any:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def copy_rows(
    conn: sa.Connection,
    table: sa.Table,
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str],
    batch_size: int = 50_000,
) -> int:
    """``COPY table (columns) FROM STDIN`` in chunks of ``batch_size`` rows (PostgreSQL only)."""
    raw = conn.connection.dbapi_connection
    cursor = raw.cursor()
    target = f"{table.fullname} ({', '.join(columns)})"
    total = 0
    iterator = iter(rows)
    try:
        while chunk := list(islice(iterator, batch_size)):
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter="\t", quotechar='"', lineterminator="\n")
            for row in chunk:
                writer.writerow([_copy_value(v) for v in row])
            buffer.seek(0)
            cursor.copy_expert(
                f"COPY {target} FROM STDIN WITH (FORMAT csv, DELIMITER E'\\t', NULL '\\N', QUOTE '\"')", buffer
            )
            total += len(chunk)
    finally:
        cursor.close()
    return total


def insert_rows(
    conn: sa.Connection,
    table: sa.Table,
    rows: Iterable[Mapping[str, Any]],
    batch_size: int = DEFAULT_BATCH,
) -> int:
    """Insert dict rows in bulk: ``COPY`` on PostgreSQL, batched executemany elsewhere."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    everything = chain([first], iterator)
    if conn.dialect.name == "postgresql":
        columns = list(first.keys())
        return copy_rows(conn, table, (tuple(row[c] for c in columns) for row in everything), columns)
    total = 0
    while batch := list(islice(everything, batch_size)):
        conn.execute(table.insert(), batch)
        total += len(batch)
    return total


def create_tables(conn: sa.Connection, tables: Sequence[sa.Table]) -> None:
    """Create our own tables when missing (warehouse only: never on a store we do not own)."""
    for table in tables:
        table.create(conn, checkfirst=True)
