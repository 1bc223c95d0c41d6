"""Fixtures for the tns tests: the sandbox TNS servers in SQLite files and on the real Firebird 3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.tns import TnsSource
from cartera_pipelines.sandbox import tns as sandbox_tns
from cartera_pipelines.sandbox.targets import SandboxTargets, TnsTarget
from cartera_pipelines_tests import engines

from .erp import Erp

KNOWN_CODES = ("FV", "DV", "FC", "DC", "RE")


@dataclass
class TnsSandbox:
    driver: str
    servers_file: Path
    targets: SandboxTargets
    password: str = ""

    def source(self) -> TnsSource:
        return TnsSource(servers_file=str(self.servers_file))

    def raw_connect(self, server_name: str, archivo: str) -> Any:
        """A writable connection to a sandbox database (tests only: to corrupt or inspect the source)."""
        source = self.source()
        server = source.server(server_name)
        path = source.company_path(server, archivo)
        if self.driver == "sqlite":
            import sqlite3

            return sqlite3.connect(path)
        import fdb

        return fdb.connect(dsn=server.dsn(path), user=server.user, password=self.password, charset="WIN1252")

    def source_lines(self, server_name: str, archivo: str) -> list[tuple[int, int, str, Decimal, Decimal]]:
        """The source's own view of what must be loaded: posted, non-voided lines of known codes."""
        conn = self.raw_connect(server_name, archivo)
        try:
            cursor = conn.cursor()
            cursor.execute(
                "SELECT D.DEKARDEXID, K.KARDEXID, K.CODCOMP, D.CANMAT, D.PARCVTA FROM DEKARDEX D "
                "JOIN KARDEX K ON K.KARDEXID = D.KARDEXID "
                "WHERE K.FECASENTAD IS NOT NULL AND K.FECANULADO IS NULL "
                "AND K.CODCOMP IN ('FV', 'DV', 'FC', 'DC', 'RE') ORDER BY D.DEKARDEXID"
            )
            return [
                (r[0], r[1], r[2].strip(), Decimal(str(r[3])), Decimal(str(r[4]))) for r in cursor.fetchall()
            ]
        finally:
            conn.close()

    def source_sums(self, server_name: str, archivo: str) -> tuple[int, Decimal, Decimal]:
        """COUNT, SUM(CANMAT), SUM(PARCVTA) computed by the source engine itself."""
        conn = self.raw_connect(server_name, archivo)
        try:
            cursor = conn.cursor()
            cursor.execute(
                "SELECT COUNT(*), SUM(D.CANMAT), SUM(D.PARCVTA) FROM DEKARDEX D "
                "JOIN KARDEX K ON K.KARDEXID = D.KARDEXID "
                "WHERE K.FECASENTAD IS NOT NULL AND K.FECANULADO IS NULL "
                "AND K.CODCOMP IN ('FV', 'DV', 'FC', 'DC', 'RE')"
            )
            n, qty, total = cursor.fetchone()
            # SQLite sums REAL values in binary floating point: round back to the columns' scales.
            return (
                int(n),
                Decimal(str(qty)).quantize(Decimal("0.0001")),
                Decimal(str(total)).quantize(Decimal("0.01")),
            )
        finally:
            conn.close()


def build_sqlite_sandbox(root: Path) -> TnsSandbox:
    targets = SandboxTargets(
        home=root,
        lending_url="",
        operations_url="",
        warehouse_url="",
        tns_servers_file=root / "tns_servers.yaml",
        tns=TnsTarget(driver="sqlite", directory=str(root / "tns")),
    )
    sandbox_tns.build(targets)
    return TnsSandbox("sqlite", targets.tns_servers_file, targets)


@pytest.fixture
def sqlite_tns(tmp_path: Path) -> TnsSandbox:
    return build_sqlite_sandbox(tmp_path / "tns_sandbox")


@pytest.fixture(scope="session")
def firebird_tns_session(
    firebird: engines.FirebirdServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TnsSandbox]:
    """The sandbox built once per session on the real Firebird 3 server (unique server names)."""
    root = tmp_path_factory.mktemp("tns_firebird")
    tag = uuid.uuid4().hex[:6]
    password_env = f"CARTERA_TEST_TNS_PASSWORD_{tag.upper()}"
    tns = firebird.tns_target(servers=(f"fb1_{tag}", f"fb2_{tag}"), password_env=password_env)
    targets = SandboxTargets(
        home=root,
        lending_url="",
        operations_url="",
        warehouse_url="",
        tns_servers_file=root / "tns_servers.yaml",
        tns=tns,
    )
    sandbox_tns.build(targets)
    yield TnsSandbox("firebird", targets.tns_servers_file, targets, password=firebird.password)
    paths = []
    for server in tns.servers:
        paths.append(sandbox_tns.database_path(tns, server, "ADMIN"))
        for company in sandbox_tns.COMPANIES:
            for year in company.years:
                paths.append(sandbox_tns.database_path(tns, server, f"{company.key.upper()}_{year}"))
                paths.append(sandbox_tns.database_path(tns, server, f"{company.key.upper()}_{year}_COPIA"))
    sandbox_tns.drop_firebird_databases(tns, paths)


@pytest.fixture
def firebird_tns(firebird_tns_session: TnsSandbox, monkeypatch: pytest.MonkeyPatch) -> TnsSandbox:
    monkeypatch.setenv(firebird_tns_session.targets.tns.password_env, firebird_tns_session.password)
    return firebird_tns_session


@pytest.fixture(params=["sqlite", "firebird"])
def tns_sandbox(request: pytest.FixtureRequest) -> TnsSandbox:
    """The same test against the SQLite sandbox and the real Firebird 3 server."""
    return request.getfixturevalue("sqlite_tns" if request.param == "sqlite" else "firebird_tns")


@pytest.fixture
def erp_sqlite(tmp_path: Path) -> Erp:
    """An empty small TNS installation in SQLite files (tests add EMPRESAS and company-years)."""
    return Erp.sqlite(tmp_path / "erp")


@pytest.fixture
def erp_firebird(
    firebird: engines.FirebirdServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Erp]:
    """The same on the real Firebird 3 server (databases dropped afterwards)."""
    password_env = f"CARTERA_TEST_ERP_PASSWORD_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(password_env, firebird.password)
    erp = Erp.firebird(firebird, tmp_path / "erp", password_env)
    yield erp
    erp.drop()


@pytest.fixture(params=["sqlite", "firebird"])
def erp_any(request: pytest.FixtureRequest) -> Erp:
    """The SQLite sandbox's TNS and the real Firebird 3 server, in turn (their reads differ: typed rows
    from SQLite, lines formatted by the Firebird server)."""
    return request.getfixturevalue(f"erp_{request.param}")


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    with engines.postgres_database() as url:
        yield url


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[SqlDatabase]:
    db = SqlDatabase(url=warehouse_url, store="warehouse")
    yield db
    db.dispose()


def ephemeral_instance() -> Any:
    """An in-memory Dagster instance, disposed on leaving the `with`: seconds faster per test than
    ``instance_for_test`` (which the pool test needs, since in-memory instances have no concurrency
    pools)."""
    import dagster as dg

    return dg.DagsterInstance.ephemeral()


def step_error(result: Any) -> str:
    """The message of the error that failed the run's step, as the user sees it in the UI (the cause
    Dagster wraps), stripped."""
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error.message.strip()
