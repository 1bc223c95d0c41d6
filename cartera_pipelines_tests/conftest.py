"""Shared fixtures: real engines (see ``engines.py``), throwaway CARTERA_HOME, sandbox stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from cartera_pipelines_tests import engines

os.environ.setdefault("DAGSTER_HOME", "")  # tests use the dagster_instance fixture or instance_for_test


@pytest.fixture
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """An in-memory Dagster instance, disposed when the test ends. One left to the garbage collector
    is disposed at a moment nobody chooses, and its closed SQLite connection logs an error there."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


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


_ENGINE_MARKERS = {"postgres_url": "postgres", "mysql_url": "mysql", "firebird": "firebird"}
_PARAM_MARKERS = {"postgresql": "postgres", "mysql": "mysql", "firebird": "firebird"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Real-engine tests carry their server's marker (``-m "not firebird"`` deselects them), whether they
    ask for the engine directly or through a fixture parametrized over engines."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in _ENGINE_MARKERS.items():
            if fixture in names:
                item.add_marker(marker)
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            for value in callspec.params.values():
                if isinstance(value, str) and value in _PARAM_MARKERS:
                    item.add_marker(_PARAM_MARKERS[value])
