"""Bulk writes: PostgreSQL ``COPY`` where available, batched multi-row inserts elsewhere.

Both run on the caller's connection, inside the caller's transaction, so a failure rolls back with
everything else the asset wrote.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import chain, islice
from typing import Any

import sqlalchemy as sa

DEFAULT_BATCH = 10_000


NULL = r"\N"
COPY_OPTIONS = "FORMAT csv, DELIMITER E'\\t', NULL '\\N', QUOTE '\"'"
"""The one COPY text format every bulk path writes: tab-separated CSV, a backslash-N for NULL."""


def _json_or_text(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def column_encoder(column: sa.Column[Any]) -> Callable[[Any], Any]:
    """Value → COPY text for one column, chosen once per column rather than per value."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return lambda v: NULL if v is None else ("t" if v else "f")
    if isinstance(kind, (sa.Date, sa.DateTime)):
        return lambda v: NULL if v is None else (v if isinstance(v, str) else v.isoformat())
    if isinstance(kind, (sa.Numeric, sa.Integer)):
        # format(…, "f"): a Decimal never goes out in exponent notation
        return lambda v: NULL if v is None else (format(v, "f") if isinstance(v, Decimal) else str(v))
    return _json_or_text


def copy_encoded(
    conn: sa.Connection, target: str, columns: Sequence[str], encoded_rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY target (columns) FROM STDIN`` of rows already encoded (``column_encoder``), on the caller's
    connection and transaction. ``target`` is a table name of ours, never input."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", quotechar='"', lineterminator="\n").writerows(encoded_rows)
    buffer.seek(0)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {target} ({', '.join(columns)}) FROM STDIN WITH ({COPY_OPTIONS})", buffer)
    finally:
        cursor.close()


def copy_rows(
    conn: sa.Connection,
    table: sa.Table,
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str],
    batch_size: int = 50_000,
) -> int:
    """``COPY table (columns) FROM STDIN`` in chunks of ``batch_size`` rows (PostgreSQL only)."""
    encoders = [column_encoder(table.c[name]) for name in columns]
    total = 0
    iterator = iter(rows)
    while chunk := list(islice(iterator, batch_size)):
        copy_encoded(
            conn, table.fullname, columns, ([enc(v) for enc, v in zip(encoders, row)] for row in chunk)
        )
        total += len(chunk)
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
