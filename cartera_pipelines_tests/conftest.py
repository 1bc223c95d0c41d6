"""Shared fixtures: real engines (see ``engines.py``), throwaway CARTERA_HOME, sandbox stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cartera_pipelines_tests import engines

os.environ.setdefault("DAGSTER_HOME", "")  # replaced per test by dagster_instance where needed


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with engines.postgres_database() as url:
        yield url


@pytest.fixture
def mysql_url() -> Iterator[str]:
    with engines.mysql_database() as url:
        yield url


@pytest.fixture(scope="session")
def firebird() -> engines.FirebirdServer:
    return engines.firebird_server()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test against SQLite, the real PostgreSQL and the real MariaDB."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    database = engines.postgres_database() if request.param == "postgresql" else engines.mysql_database()
    with database as url:
        yield url


@pytest.fixture
def cartera_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: CARTERA_HOME in tmp_path, every other cartera variable unset."""
    from cartera_pipelines.settings import VARIABLES

    for variable in VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    home = tmp_path / "cartera_home"
    monkeypatch.setenv("CARTERA_HOME", str(home))
    return home
