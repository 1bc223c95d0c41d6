"""The PostgreSQL page write: COPY text (escaping), straight into the table when every id is new, and the
upsert when another sync stored one of them after the lookup."""

from __future__ import annotations

import sqlalchemy as sa

from cartera_pipelines.defs.contifico.catalog import RESOURCES
from cartera_pipelines.defs.contifico.parsing import content_hash, parse_page
from cartera_pipelines.defs.contifico.sql import _upsert_postgres, upsert_page
from cartera_pipelines.defs.contifico.sync import ensure_tables
from cartera_pipelines.defs.contifico.tables import RESOURCE_TABLES
from cartera_pipelines.lib.dates import utcnow
from cartera_pipelines.resources.database import SqlDatabase

ODD = ["tab\there", "line\nbreak", "cr\rx", "back\\slash", "\\N", "plain", 'é ñ \u2028 "q"', "", None]


def brands(prefix: str) -> list[dict[str, object]]:
    return [
        {"id": f"{prefix}{n:010d}", "nombre": ODD[n % len(ODD)], "extra": {"t": ODD[(n + 3) % len(ODD)]}}
        for n in range(120)
    ]


def stored(db: SqlDatabase) -> dict[str, tuple[object, ...]]:
    table = RESOURCE_TABLES["brands"]
    with db.connect() as conn:
        query = sa.select(table.c.id, table.c.name, table.c.raw, table.c.content_hash, table.c.deleted_at)
        return {row[0]: tuple(row[1:]) for row in conn.execute(query)}


def test_page_copy_keeps_odd_text_and_survives_a_concurrent_insert(postgres_url: str) -> None:
    db = SqlDatabase(url=postgres_url, store="warehouse")
    ensure_tables(db)
    table = RESOURCE_TABLES["brands"]
    records = brands("b")
    parsed = parse_page(RESOURCES["brands"], records).records
    now = utcnow()
    with db.begin() as conn:  # a first page of new ids: COPY straight into the table
        written = upsert_page(conn, table, parsed[:60], now)
    assert written.new == 60
    with db.begin() as conn:
        # As if another sync stored ids 60..69 after this page's lookup found none of them: the direct
        # COPY hits the primary key, its savepoint is rolled back and the page goes through the upsert.
        upsert_page(conn, table, parsed[60:70], now)
        _upsert_postgres(conn, table, [item.row for item in parsed[60:]], now, all_new=True)
    rows = stored(db)
    assert len(rows) == 120
    for record in records:
        name, raw, digest, deleted = rows[str(record["id"])]
        assert (name, raw, digest, deleted) == (record["nombre"], record, content_hash(record), None)
    db.dispose()
