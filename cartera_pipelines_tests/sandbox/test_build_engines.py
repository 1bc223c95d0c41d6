"""The whole sandbox builds into the real engines: lending in MariaDB, operations and warehouse in
PostgreSQL, the TNS databases on the Firebird 3 server — and, by default, into SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartera_pipelines.sandbox.build import BUILDERS, build_sandbox
from cartera_pipelines.sandbox.targets import SandboxTargets, TnsTarget, targets_from_settings
from cartera_pipelines.settings import load_settings
from cartera_pipelines_tests.engines import FirebirdServer

EXPECTED_WITH_ROWS = {"collections", "loans", "factoring", "tns", "contifico"}


def _families_with_rows(built) -> set[str]:
    return {b.family for b in built if b.rows > 0}


def test_sandbox_builds_in_sqlite_and_is_deterministic(cartera_env: Path) -> None:
    targets = targets_from_settings(load_settings())
    first = build_sandbox(targets, seed=7)
    second = build_sandbox(targets, seed=7)
    assert first == second
    assert _families_with_rows(first) == EXPECTED_WITH_ROWS
    for name in ("lending.db", "operations.db", "warehouse.db", "tns_servers.yaml"):
        assert (cartera_env / name).exists(), name


def test_sandbox_builds_in_the_real_engines(
    tmp_path: Path,
    mysql_url: str,
    postgres_url: str,
    firebird: FirebirdServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cartera_pipelines_tests.engines import postgres_database

    monkeypatch.setenv("TNS_SANDBOX_PASSWORD", firebird.password)
    with postgres_database() as warehouse_url:
        targets = SandboxTargets(
            home=tmp_path,
            lending_url=mysql_url,
            operations_url=postgres_url,
            warehouse_url=warehouse_url,
            tns_servers_file=tmp_path / "tns_servers.yaml",
            tns=TnsTarget(
                driver="firebird",
                directory=firebird.data_dir,
                host=firebird.host,
                port=firebird.port,
                user=firebird.user,
                password=firebird.password,
                password_env="TNS_SANDBOX_PASSWORD",
            ),
        )
        built = build_sandbox(targets, families=BUILDERS)
    assert _families_with_rows(built) == EXPECTED_WITH_ROWS
    assert "driver: firebird" in (tmp_path / "tns_servers.yaml").read_text()
