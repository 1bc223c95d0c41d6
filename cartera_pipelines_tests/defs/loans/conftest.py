"""Fixtures for the loans tests: the loans sandbox built into SQLite or the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cartera_pipelines.defs.loans import assets, checks
from cartera_pipelines.defs.loans.config import CuotasConfig
from cartera_pipelines.resources import SqlDatabase
from cartera_pipelines.sandbox import loans as loans_sandbox
from cartera_pipelines.sandbox.targets import SandboxTargets
from cartera_pipelines_tests import engines

ALL_CHECKS = [value for value in vars(checks).values() if isinstance(value, dg.AssetChecksDefinition)]


def build_loans_sandbox(url: str, tmp_path: Path, scale: int = 1) -> str:
    targets = SandboxTargets(
        home=tmp_path,
        lending_url="",
        operations_url=url,
        warehouse_url="",
        tns_servers_file=tmp_path / "tns.yaml",
    )
    loans_sandbox.build(targets, scale=scale)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def loans_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The loans sandbox in SQLite and in a fresh database on the real PostgreSQL."""
    if request.param == "sqlite":
        yield build_loans_sandbox(f"sqlite:///{tmp_path / 'operations.db'}", tmp_path)
        return
    with engines.postgres_database() as url:
        yield build_loans_sandbox(url, tmp_path)


def materialize_cuotas(
    url: str, as_of: str = "2026-11-21", with_checks: bool = True, **config: Any
) -> dg.ExecuteInProcessResult:
    db = SqlDatabase(url=url)
    try:
        return dg.materialize(
            [assets.prestamos_source, assets.operations_cuotas, *(ALL_CHECKS if with_checks else [])],
            resources={"operations_db": db},
            run_config=dg.RunConfig(
                ops={assets.operations_cuotas.op.name: CuotasConfig(as_of=as_of, **config)}
            ),
            raise_on_error=False,
        )
    finally:
        db.dispose()


def cuotas_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [event] = result.get_asset_materialization_events()
    return {key: getattr(value, "value", value) for key, value in event.materialization.metadata.items()}


def check_outcomes(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
