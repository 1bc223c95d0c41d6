"""Real database engines for tests: a fresh, throwaway database per use on each server.

Servers default to this machine's (PostgreSQL 127.0.0.1:5432 trust, MariaDB 127.0.0.1:3306 root, Firebird
127.0.0.1:3050 SYSDBA); override with CARTERA_TEST_PG_URL, CARTERA_TEST_MYSQL_URL,
CARTERA_TEST_FIREBIRD_HOST/_PORT/_PASSWORD/_DIR. When a server cannot be reached the test is skipped
locally and FAILS in CI (CI=true): a real-engine test is never silently skipped there.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("CARTERA_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN_URL = os.environ.get("CARTERA_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: real-engine tests may not be skipped)", pytrace=False)
    pytest.skip(message)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class ServerDatabase:
    """Creates and drops one database on a PostgreSQL or MySQL server."""

    def __init__(self, admin_url: str, what: str) -> None:
        self.admin_url = admin_url
        self.what = what
        self.name = _unique("cartera_t")
        self.url = ""

    def __enter__(self) -> str:
        try:
            admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {self.name}"))
            admin.dispose()
        except sa.exc.OperationalError as exc:
            unavailable(self.what, exc)
        self.url = make_url(self.admin_url).set(database=self.name).render_as_string(hide_password=False)
        return self.url

    def __exit__(self, *exc: object) -> None:
        admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name}"))
        admin.dispose()


def postgres_database() -> ServerDatabase:
    return ServerDatabase(PG_ADMIN_URL, "PostgreSQL (CARTERA_TEST_PG_URL)")


def mysql_database() -> ServerDatabase:
    return ServerDatabase(MYSQL_ADMIN_URL, "MariaDB/MySQL (CARTERA_TEST_MYSQL_URL)")


def _firebird_password() -> str:
    explicit = os.environ.get("CARTERA_TEST_FIREBIRD_PASSWORD")
    if explicit:
        return explicit
    secret_file = Path("/etc/firebird/3.0/SYSDBA.password")
    if secret_file.exists():
        for line in secret_file.read_text().splitlines():
            if line.startswith("ISC_PASSWORD="):
                return line.split("=", 1)[1].strip().strip('"')
    return "masterkey"


@dataclass(frozen=True)
class FirebirdServer:
    """The real Firebird 3 server tests create databases on (files in ``data_dir``)."""

    host: str
    port: int
    user: str
    password: str
    data_dir: str

    def path(self, name: str) -> str:
        return f"{self.data_dir}/{name}.fdb"

    def dsn(self, path: str) -> str:
        return f"{self.host}/{self.port}:{path}"

    def tns_target(self, servers: tuple[str, ...], password_env: str):  # -> sandbox.targets.TnsTarget
        """Where the TNS sandbox builds its company databases on this server (files in ``data_dir``)."""
        from cartera_pipelines.sandbox.targets import TnsTarget

        return TnsTarget(
            driver="firebird",
            directory=self.data_dir,
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            password_env=password_env,
            servers=servers,
        )

    def create_database(self, name: str | None = None, charset: str = "WIN1252"):  # -> fdb.Connection
        import fdb

        path = self.path(name or _unique("cartera_t"))
        return fdb.create_database(
            dsn=self.dsn(path), user=self.user, password=self.password, charset=charset, page_size=8192
        )


def firebird_server() -> FirebirdServer:
    server = FirebirdServer(
        host=os.environ.get("CARTERA_TEST_FIREBIRD_HOST", "127.0.0.1"),
        port=int(os.environ.get("CARTERA_TEST_FIREBIRD_PORT", "3050")),
        user=os.environ.get("CARTERA_TEST_FIREBIRD_USER", "SYSDBA"),
        password=_firebird_password(),
        data_dir=os.environ.get("CARTERA_TEST_FIREBIRD_DIR", "/var/lib/cartera-firebird-tests"),
    )
    try:
        conn = server.create_database(_unique("probe"))
        conn.drop_database()
    except Exception as exc:
        unavailable("Firebird 3 (CARTERA_TEST_FIREBIRD_*)", exc)
    return server
