"""The warehouse schema: versioned with alembic, created and upgraded by the assets that write it.

Each family that owns warehouse tables has its own branch of migrations under
``cartera_pipelines/migrations/warehouse/<family>/`` (branch label = the family's name), so the families'
schemas evolve independently; ``alembic upgrade heads`` brings every branch to its newest revision.

:func:`ensure_schema` is what an asset calls before it writes: it compares the warehouse's revisions with
the code's and upgrades only when they differ. Several assets start at once on a fresh warehouse, so the
upgrade is guarded: a PostgreSQL advisory lock serialises it there, and everywhere a CREATE that lost a race
(the other process created the table first) is settled by checking again.

A warehouse created before migrations existed (no ``alembic_version`` table) upgrades in place: each
family's first revision creates only the tables that are missing (:func:`create_table_if_missing`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.lib.bulk import insert_rows

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations" / "warehouse"
_ADVISORY_LOCK_KEY = 0x63617274  # "cart": one lock for the whole warehouse schema
_checked: set[str] = set()
_checked_lock = threading.Lock()
_upgrade_lock = threading.RLock()


class SchemaError(RuntimeError):
    """The warehouse schema could not be brought to the code's revision."""


def _versions() -> list[str]:
    return sorted(str(p) for p in MIGRATIONS.iterdir() if p.is_dir() and not p.name.startswith("__"))


def alembic_config(connection: sa.Connection | None = None) -> Any:
    """An alembic ``Config`` for the warehouse migrations (``connection`` is used by ``env.py``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_locations", " ".join(_versions()))
    config.set_main_option("path_separator", "space")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def code_heads() -> set[str]:
    """The newest revision of every family's branch, as the code has them.

    A head another branch depends on (``depends_on``) is left out: alembic's version table does not list a
    revision it already implies, so neither do we.
    """
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    implied = set()
    for revision in script.walk_revisions():
        dependencies = revision.dependencies or ()
        implied.update((dependencies,) if isinstance(dependencies, str) else dependencies)
    return set(script.get_heads()) - implied


def database_heads(conn: sa.Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: sa.Engine, target: str = "heads") -> None:
    """Run the migrations up to ``target`` under the schema lock (also ``cartera warehouse upgrade``)."""
    from alembic import command

    races = (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError)
    attempts = 8
    for attempt in range(attempts):
        try:
            # alembic's migration context is process-global: one upgrade at a time in this process
            with _upgrade_lock, engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
                command.upgrade(alembic_config(conn), target)
            return
        except races as error:
            # Another process created the same table first (SQLite has no advisory lock): look again.
            if attempt == attempts - 1:
                raise SchemaError(f"the warehouse schema could not be upgraded: {error}") from error
            time.sleep(0.1 * (attempt + 1))


def ensure_schema(db: Any) -> None:
    """Bring the warehouse (a ``SqlDatabase`` or an ``Engine``) to the code's schema, once per process."""
    engine: sa.Engine = db.engine if hasattr(db, "engine") else db
    key = engine.url.render_as_string(hide_password=False)
    if key in _checked:
        return
    with _checked_lock:
        if key in _checked:
            return
        with engine.connect() as conn:
            current = database_heads(conn)
        if current != code_heads():
            upgrade(engine)
        _checked.add(key)


def forget_checked() -> None:
    """Forget which warehouses were already checked in this process (tests that drop tables)."""
    _checked.clear()


# --- helpers for migration files -------------------------------------------------------------------------


def create_table_if_missing(name: str, *columns: Any, **kwargs: Any) -> None:
    """``op.create_table`` unless the table exists (first revisions: legacy warehouses upgrade in place)."""
    from alembic import op

    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns, **kwargs)


def create_index_if_missing(name: str, table: str, columns: Sequence[str], **kwargs: Any) -> None:
    from alembic import op

    existing = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}
    if name not in existing:
        op.create_index(name, table, list(columns), **kwargs)


# --- idempotent slice writes ------------------------------------------------------------------------------


def replace_slice(
    conn: sa.Connection,
    table: sa.Table,
    where: sa.ColumnElement[bool] | Mapping[str, Any],
    rows: Iterable[Mapping[str, Any]] | sa.Select[Any] | sa.TextualSelect,
) -> tuple[int, int]:
    """Delete the slice ``where`` selects and insert ``rows``, inside the caller's transaction.

    ``rows`` may also be a query whose columns are the table's, in order: then the rows never leave the
    database (one ``INSERT … SELECT``).

    ``where`` is a SQL condition or a mapping of column → value (``{"nit": "900123456"}``). Returns
    ``(deleted, inserted)``. A failure anywhere rolls back with the caller's transaction, so the previous
    slice stays; a re-run with the same rows gives the same table.
    """
    if isinstance(where, Mapping):
        where = sa.and_(*(table.c[name] == value for name, value in where.items()))
    deleted = conn.execute(table.delete().where(where)).rowcount
    if isinstance(rows, sa.Select | sa.TextualSelect):
        inserted = conn.execute(table.insert().from_select(list(table.columns), rows)).rowcount
    else:
        inserted = insert_rows(conn, table, rows)
    return max(deleted, 0), inserted
