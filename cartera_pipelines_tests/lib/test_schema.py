"""The warehouse schema: migrations create it, legacy warehouses upgrade in place, and the migrations
match the tables the families declare (so nobody changes ``tables.py`` without a migration)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cartera_pipelines.defs.contifico import tables as contifico
from cartera_pipelines.defs.contifico.analytics import tables as contifico_analytics
from cartera_pipelines.defs.factoring import tables as factoring
from cartera_pipelines.defs.forecasting import tables as forecasting
from cartera_pipelines.defs.tns import tables as tns
from cartera_pipelines.lib import schema
from cartera_pipelines.resources.database import create_store_engine

FAMILY_METADATA = {
    "contifico": contifico.metadata,
    "contifico_analytics": contifico_analytics.metadata,
    "tns": tns.warehouse,
    "forecasting": forecasting.warehouse,
    "factoring": factoring.warehouse,
}

# Branches born after migrations existed: a legacy warehouse never had their tables.
NEWER_BRANCHES = {"contifico_analytics"}


def _differences(engine: sa.Engine) -> list:
    """What differs between the migrated warehouse and the families' table definitions."""
    found = []
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        for family, metadata in FAMILY_METADATA.items():
            diff = compare_metadata(context, metadata)
            # other families' tables (and alembic_version) are not this family's to declare
            found += [(family, d) for d in diff if d[0] != "remove_table"]
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("postgres_url")


def test_every_family_has_a_branch_and_one_head_each() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema.alembic_config())
    labels = {label for revision in script.walk_revisions() for label in revision.branch_labels}
    assert labels == set(FAMILY_METADATA)
    assert len(script.get_heads()) == len(FAMILY_METADATA)
    # contifico_analytics depends on contifico's line tables: the version table lists only the dependent
    assert "contifico_0002" not in schema.code_heads()


def test_migrations_create_what_the_tables_declare(warehouse_url: str) -> None:
    engine = create_store_engine(warehouse_url)
    schema.ensure_schema(engine)
    with engine.connect() as conn:
        assert schema.database_heads(conn) == schema.code_heads()
    assert _differences(engine) == []
    engine.dispose()


def test_a_warehouse_created_before_migrations_upgrades_in_place(warehouse_url: str) -> None:
    """A warehouse as the code before migrations left it (every family's baseline tables, no
    ``alembic_version``, rows in it) upgrades to the newest revisions and keeps its rows."""
    engine = create_store_engine(warehouse_url)
    for family in FAMILY_METADATA:
        if family not in NEWER_BRANCHES:
            schema.upgrade(engine, f"{family}_0001")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(
            sa.text(
                "INSERT INTO contifico_sync_state (resource, endpoint, mode, fetched) "
                "VALUES ('products', 'v1/producto/', 'full', 7)"
            )
        )
    schema.upgrade(engine)
    with engine.connect() as conn:
        assert schema.database_heads(conn) == schema.code_heads()
        kept = conn.execute(sa.text("SELECT fetched FROM contifico_sync_state WHERE resource = 'products'"))
        assert kept.scalar_one() == 7
    assert _differences(engine) == []
    engine.dispose()


def test_concurrent_upgrades_on_a_fresh_warehouse_settle(warehouse_url: str) -> None:
    """Several assets start at once on a fresh warehouse: every one of them gets a complete schema."""
    code = (
        "import sys\n"
        "from cartera_pipelines.lib import schema\n"
        "from cartera_pipelines.resources.database import create_store_engine\n"
        "schema.upgrade(create_store_engine(sys.argv[1]))\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, warehouse_url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    failures = [p.stderr.read() for p in processes if p.wait(timeout=300) != 0]
    assert failures == []
    engine = create_store_engine(warehouse_url)
    assert _differences(engine) == []
    engine.dispose()


def test_replace_slice_replaces_only_the_slice(sqlite_url: str) -> None:
    metadata = sa.MetaData()
    things = sa.Table("things", metadata, sa.Column("nit", sa.String(10)), sa.Column("n", sa.Integer))
    engine = create_store_engine(sqlite_url)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(things.insert(), [{"nit": "a", "n": 1}, {"nit": "a", "n": 2}, {"nit": "b", "n": 3}])
        assert schema.replace_slice(conn, things, {"nit": "a"}, [{"nit": "a", "n": 9}]) == (2, 1)
        rows = sorted(conn.execute(sa.select(things.c.nit, things.c.n)).all())
    assert rows == [("a", 9), ("b", 3)]


def test_a_contifico_warehouse_of_the_baseline_upgrades_in_place(warehouse_url: str) -> None:
    """A warehouse as today's main code leaves it (contifico at its baseline, rows in it) gains the child
    tables, rejects, drift and the new sync-state counts, its VARCHAR(300) texts become TEXT, and every
    row stays."""
    engine = create_store_engine(warehouse_url)
    schema.upgrade(engine, "contifico_0001")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO contifico_journal_entries (id, raw, content_hash, first_seen_at, fetched_at, description)"
                " VALUES ('AsIeNtO000000001', '{}', :hash, '2026-01-01', '2026-01-01', 'Asiento 1')"
            ),
            {"hash": "0" * 64},
        )
        conn.execute(
            sa.text(
                "INSERT INTO contifico_sync_state (resource, endpoint, mode, fetched) VALUES ('persons', 'persona/', 'full', 9)"
            )
        )
    schema.upgrade(engine)
    inspector = sa.inspect(engine)
    text_columns = {c["name"]: c["type"] for c in inspector.get_columns("contifico_journal_entries")}
    assert isinstance(text_columns["description"], sa.Text)
    assert {"contifico_sales_lines", "contifico_rejects", "contifico_schema_drift"} <= set(
        inspector.get_table_names()
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE contifico_journal_entries SET description = :text"), {"text": "x" * 450}
        )  # a 450-character glosa fits now (PostgreSQL refused it in VARCHAR(300))
        kept = conn.execute(sa.text("SELECT fetched, rejected FROM contifico_sync_state")).one()
        assert tuple(kept) == (9, None)
        assert conn.execute(sa.text("SELECT count(*) FROM contifico_journal_entries")).scalar_one() == 1
    assert _differences(engine) == []
    engine.dispose()
