"""Helpers for sandbox builders: recreate tables (sandbox only!) and insert rows in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.resources.database import create_store_engine


def recreate_tables(url: str, tables: Sequence[sa.Table]) -> sa.Engine:
    """Drop and create ``tables`` on ``url``. DDL on a store we do not own happens only here."""
    engine = create_store_engine(url)
    metadata = sa.MetaData()
    copies = [t.to_metadata(metadata) for t in tables]
    with engine.begin() as conn:
        for table in reversed(copies):
            table.drop(conn, checkfirst=True)
        for table in copies:
            table.create(conn)
    return engine


def insert_rows(
    conn: sa.Connection, table: sa.Table, rows: Iterable[Mapping[str, Any]], batch_size: int = 5000
) -> int:
    """Executemany-insert ``rows`` in batches; returns the count."""
    total = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        conn.execute(table.insert(), batch)
        total += len(batch)
    return total
