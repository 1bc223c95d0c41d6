"""Fixtures of the collections tests: sandbox stores on any engine, resources, a materialize helper."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.collections.assets import collections_assignment
from cartera_pipelines.defs.collections.checks import contract_advisors_checks
from cartera_pipelines.defs.collections.config import AssignmentConfig, HousesConfig
from cartera_pipelines.defs.collections.tables import contract_advisors, contract_advisors_history
from cartera_pipelines.resources import CarteraPaths, SqlDatabase
from cartera_pipelines.sandbox import collections as sandbox
from cartera_pipelines.sandbox.targets import SandboxTargets

AS_OF = dt.date(2026, 11, 21)


def build_stores(
    home: Path, lending_url: str, operations_url: str, scale: int = 1, seed: int = 7
) -> dict[str, int]:
    targets = SandboxTargets(
        home=home,
        lending_url=lending_url,
        operations_url=operations_url,
        warehouse_url="sqlite://",
        tns_servers_file=home / "tns_servers.yaml",
    )
    home.mkdir(parents=True, exist_ok=True)
    return sandbox.build(targets, scale=scale, seed=seed, today=AS_OF)


def resources(lending_url: str, operations_url: str, home: Path) -> dict[str, Any]:
    return {
        "lending_db": SqlDatabase(url=lending_url, read_only=True, store="lending"),
        "operations_db": SqlDatabase(url=operations_url, store="operations"),
        "paths": CarteraPaths(home=str(home)),
    }


def run_assignment(
    lending_url: str,
    operations_url: str,
    home: Path,
    *,
    as_of: dt.date = AS_OF,
    checks: bool = True,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    **config: Any,
) -> dg.ExecuteInJobResult:
    """One run of the assignment (and its checks) for the partition ``as_of``; ``config`` goes to both."""
    assets: list[Any] = [collections_assignment] + ([contract_advisors_checks] if checks else [])
    houses = {k: v for k, v in config.items() if k in HousesConfig.model_fields}
    ops: dict[str, Any] = {collections_assignment.op.name: AssignmentConfig(**config)}
    if checks:
        ops[contract_advisors_checks.op.name] = HousesConfig(**houses)
    return dg.materialize(
        assets,
        partition_key=as_of.isoformat(),
        resources=resources(lending_url, operations_url, home),
        run_config=dg.RunConfig(ops=ops),
        instance=instance,
        raise_on_error=raise_on_error,
    )


def snapshot(operations_url: str) -> dict[str, list[tuple]]:
    """Every row of the tables the assignment writes, in a stable order (to compare before/after)."""
    engine = sa.create_engine(operations_url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                for t in (contract_advisors, contract_advisors_history)
            }
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_stores(tmp_path: Path) -> tuple[str, str, Path]:
    lending = f"sqlite:///{tmp_path / 'lending.db'}"
    operations = f"sqlite:///{tmp_path / 'operations.db'}"
    build_stores(tmp_path / "home", lending, operations)
    return lending, operations, tmp_path / "home"


@pytest.fixture
def server_stores(tmp_path: Path, mysql_url: str, postgres_url: str) -> tuple[str, str, Path]:
    """MariaDB as the lending store, PostgreSQL as operations (the production pairing)."""
    build_stores(tmp_path / "home", mysql_url, postgres_url)
    return mysql_url, postgres_url, tmp_path / "home"
