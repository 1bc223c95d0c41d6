"""SQL stores reached through a SQLAlchemy URL: SQLite (embedded), PostgreSQL, MySQL/MariaDB.

One pooled engine per resource instance, created on first use (never at import). ``begin()`` gives a
connection inside a transaction that commits on success and rolls back on any error, so an asset that
fails leaves its target as it was. ``read_only=True`` is for stores we do not own (lending, TNS): the
session is opened read-only by the engine itself where the dialect can (PostgreSQL, MySQL, SQLite
``query_only``), and every statement is also checked before it is sent, so a write fails loudly instead
of reaching a store we must not touch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr
from sqlalchemy.engine import Connection, Engine, make_url

from cartera_pipelines.resources.base import FromSettings

_READ_STATEMENT = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*\(?\s*(select|with|show|pragma|explain|describe|values)\b", re.I | re.S
)


class ReadOnlyStoreError(RuntimeError):
    """A write was attempted on a store configured read-only."""


def create_store_engine(url: str, *, read_only: bool = False, pool_size: int = 5) -> Engine:
    """An engine for ``url`` with the options each dialect needs (also used by the CLI and tests)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "future": True}
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not read_only:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args["timeout"] = 30
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600)
        if backend == "postgresql":
            connect_args["connect_timeout"] = 10
            if read_only:
                connect_args["options"] = "-c default_transaction_read_only=on"
        elif backend == "mysql":
            connect_args.update(connect_timeout=10, charset="utf8mb4")
    engine = sa.create_engine(parsed, connect_args=connect_args, **kwargs)

    if backend == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if read_only:
                cursor.execute("PRAGMA query_only=ON")
            else:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    elif backend == "mysql" and read_only:

        @sa.event.listens_for(engine, "connect")
        def _mysql_read_only(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.close()

    if read_only:

        @sa.event.listens_for(engine, "before_cursor_execute")
        def _refuse_writes(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if not _READ_STATEMENT.match(statement):
                first = statement.strip().split(None, 1)[0] if statement.strip() else "?"
                raise ReadOnlyStoreError(
                    f"refused a {first.upper()} statement: this store is configured read-only"
                )

    return engine


class SqlDatabase(FromSettings):
    """A SQL store named by a SQLAlchemy URL (from an environment variable, see ``settings.py``)."""

    url: str
    read_only: bool = False
    pool_size: int = 5
    store: str = "store"
    """Human name used in messages (lending, operations, warehouse)."""

    _engine: Engine | None = PrivateAttr(default=None)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_store_engine(self.url, read_only=self.read_only, pool_size=self.pool_size)
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return make_url(self.url).get_backend_name()

    @property
    def kind(self) -> str:
        """The Dagster kind tag of this store's engine."""
        return {"postgresql": "postgres"}.get(self.dialect, self.dialect)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction: committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads; use ``stream_results`` execution options to stream large results."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def raw_connection(self) -> Iterator[Any]:
        """The DB-API connection, for bulk paths (PostgreSQL ``COPY``). Caller commits."""
        conn = self.engine.raw_connection()
        try:
            yield conn
        finally:
            conn.close()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.dispose()
