"""SqlDatabase against SQLite and the real PostgreSQL and MariaDB: transactions and read-only mode."""

import pytest
import sqlalchemy as sa

from cartera_pipelines.resources.database import ReadOnlyStoreError, SqlDatabase

metadata = sa.MetaData()
things = sa.Table(
    "things", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("amount", sa.Numeric(15, 2))
)


def test_begin_commits_and_rolls_back(any_store_url: str) -> None:
    db = SqlDatabase(url=any_store_url)
    with db.begin() as conn:
        metadata.create_all(conn)
        conn.execute(things.insert(), [{"id": 1, "amount": "10.05"}])
    with pytest.raises(RuntimeError), db.begin() as conn:
        conn.execute(things.insert(), [{"id": 2, "amount": "1.00"}])
        raise RuntimeError("fails mid-transaction")
    with db.connect() as conn:
        rows = conn.execute(sa.select(things.c.id, things.c.amount)).all()
    assert [(r.id, str(r.amount)) for r in rows] == [(1, "10.05")]
    db.dispose()


def test_read_only_store_refuses_writes_but_reads(any_store_url: str) -> None:
    writer = SqlDatabase(url=any_store_url)
    with writer.begin() as conn:
        metadata.create_all(conn)
        conn.execute(things.insert(), [{"id": 1, "amount": "3.50"}])
    writer.dispose()

    reader = SqlDatabase(url=any_store_url, read_only=True, store="lending")
    with reader.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(things)).scalar_one() == 1
    for statement in (things.insert().values(id=2, amount=1), things.delete(), sa.text("DROP TABLE things")):
        with pytest.raises((ReadOnlyStoreError, sa.exc.StatementError)) as info:
            with reader.begin() as conn:
                conn.execute(statement)
        assert "read-only" in str(info.value)
    with reader.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(things)).scalar_one() == 1
    reader.dispose()


def test_read_only_is_enforced_by_the_engine_too(postgres_url: str) -> None:
    """Even SQL that slips past the statement guard (a writing CTE) is refused by PostgreSQL itself."""
    writer = SqlDatabase(url=postgres_url)
    with writer.begin() as conn:
        metadata.create_all(conn)
    writer.dispose()
    reader = SqlDatabase(url=postgres_url, read_only=True)
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), reader.begin() as conn:
        conn.execute(sa.text("WITH x AS (INSERT INTO things (id) VALUES (9) RETURNING id) SELECT * FROM x"))
    reader.dispose()


def test_kind_and_dialect(sqlite_url: str, postgres_url: str) -> None:
    assert SqlDatabase(url=sqlite_url).kind == "sqlite"
    assert SqlDatabase(url=postgres_url).kind == "postgres"
