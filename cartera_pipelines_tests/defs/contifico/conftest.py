"""Fixtures of the contifico tests: the simulator over real HTTP on a free port, a client on it, and
the warehouse on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cartera_pipelines.resources.contifico import ContificoApi
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.sandbox.contifico import write_data_file
from cartera_pipelines.sandbox.contifico_simulator import SimulatorServer, make_server
from cartera_pipelines.sandbox.defaults import CONTIFICO_API_KEY as SANDBOX_CONTIFICO_API_KEY
from cartera_pipelines_tests import engines

SEED = 7


@pytest.fixture(scope="session")
def contifico_data_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contifico") / "records.sqlite"
    write_data_file(path, scale=1, seed=SEED)
    return path


@pytest.fixture
def simulator(contifico_data_template: Path, tmp_path: Path) -> Iterator[SimulatorServer]:
    """A fresh copy of the scale-1 data behind a real HTTP server on 127.0.0.1:<free port>."""
    data_file = tmp_path / "records.sqlite"
    shutil.copy(contifico_data_template, data_file)
    server = make_server("127.0.0.1", 0, data_file=data_file, scale=1, seed=SEED)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def make_api(server: SimulatorServer, **overrides: object) -> ContificoApi:
    settings: dict[str, object] = {
        "base_url": server.base_url,
        "api_key": SANDBOX_CONTIFICO_API_KEY,
        "page_size": 100,
        "rate_limit_rps": 0,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "max_retries": 8,
        "timeout_seconds": 5,
    }
    return ContificoApi(**(settings | overrides))


@pytest.fixture
def api(simulator: SimulatorServer) -> Iterator[ContificoApi]:
    client = make_api(simulator)
    yield client
    client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    """The warehouse on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        db = SqlDatabase(url=f"sqlite:///{tmp_path / 'warehouse.db'}", store="warehouse")
        yield db
        db.dispose()
        return
    with engines.postgres_database() as url:
        db = SqlDatabase(url=url, store="warehouse")
        yield db
        db.dispose()
