"""The deployment rehearsal's fixture: a sandbox on the real PostgreSQL and the three Dagster processes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from cartera_pipelines_tests import engines
from cartera_pipelines_tests.deploy.stack import BIN, Stack, clean_environment, write_instance

SANDBOX_FAMILIES = ("collections", "loans", "tns")


def _libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as dagster-postgres wants it (plain ``postgresql://``)."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


@pytest.fixture
def deployment(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Instance, operations and warehouse on the real PostgreSQL (three throwaway databases), lending and
    TNS as sandbox files; code server, webserver and daemon running; every sensor and schedule stopped
    (the test starts what it needs); pools sized with ``cartera pools apply``."""
    from cartera_pipelines.sandbox.build import build_sandbox
    from cartera_pipelines.sandbox.targets import targets_from_settings
    from cartera_pipelines.settings import load_settings

    with ExitStack() as resources:
        operations_url = resources.enter_context(engines.postgres_database())
        warehouse_url = resources.enter_context(engines.postgres_database())
        env = clean_environment(
            {
                "CARTERA_HOME": str(tmp_path / "cartera_home"),
                "DAGSTER_HOME": str(tmp_path / "dagster_home"),
                "DAGSTER_PG_URL": _libpq(postgres_url),
                "CARTERA_OPERATIONS_URL": operations_url,
                "CARTERA_WAREHOUSE_URL": warehouse_url,
            }
        )
        write_instance(tmp_path / "dagster_home")
        stack = Stack(workdir=tmp_path, env=env)
        resources.callback(stack.stop)
        stack.start_code_server()  # loads the definitions while the sandbox is built
        build_sandbox(targets_from_settings(load_settings(env)), families=SANDBOX_FAMILIES)
        applied = subprocess.run(
            [str(BIN / "cartera"), "pools", "apply"], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert applied.returncode == 0, applied.stderr
        stack.start_webserver()
        stack.wait_until_loaded()
        stack.stop_all_automation()
        stack.start_daemon()
        stack.wait_for_daemon()
        yield stack
