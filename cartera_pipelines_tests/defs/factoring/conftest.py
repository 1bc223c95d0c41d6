"""Fixtures for the factoring tests: the sandbox operations store on SQLite or the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.sandbox import factoring as sandbox
from cartera_pipelines.sandbox.targets import SandboxTargets
from cartera_pipelines_tests import engines

# The sandbox's "today" in Chile: 2026-03-09, i.e. until 2026-03-10 03:00 UTC (summer time, UTC-3).
TODAY = dt.date(2026, 3, 9)
SECRET = "test-webhook-secret"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The operations store (and warehouse) on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'operations.db'}"
        return
    with engines.postgres_database() as url:
        yield url


def build_sandbox(url: str, tmp_path: Path, scale: int = 1) -> dict[str, int]:
    targets = SandboxTargets(
        home=tmp_path,
        lending_url="",
        operations_url=url,
        warehouse_url="",
        tns_servers_file=tmp_path / "x.yaml",
    )
    return sandbox.build(targets, scale=scale, seed=42, today=TODAY)


@pytest.fixture
def factoring_store(store_url: str, tmp_path: Path) -> Iterator[SqlDatabase]:
    build_sandbox(store_url, tmp_path)
    db = SqlDatabase(url=store_url, store="operations")
    yield db
    db.dispose()


@pytest.fixture
def warehouse(store_url: str, tmp_path: Path) -> Iterator[SqlDatabase]:
    """The warehouse: its own SQLite file, or the same PostgreSQL database (different tables)."""
    url = f"sqlite:///{tmp_path / 'warehouse.db'}" if store_url.startswith("sqlite") else store_url
    db = SqlDatabase(url=url, store="warehouse")
    yield db
    db.dispose()
