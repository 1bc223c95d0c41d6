"""The container rehearsal's world: the sandbox loaded into the real engines as production's sources
(lending in MariaDB, operations and warehouse in PostgreSQL, TNS on the Firebird 3 server, Contifico as
the simulator, a webhook receiver), the Dagster instance in PostgreSQL, and the three long-running
containers of the image in production mode (``containers.py``).

The rehearsal runs with ``make rehearsal`` (which builds the image first and sets CARTERA_REHEARSAL=1);
``make test`` does not collect it (so nothing is reported as skipped under ``CI=true``): ``.ci/run`` runs
``make rehearsal`` right after ``make test``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest

from cartera_pipelines_tests import engines
from cartera_pipelines_tests.deploy.containers import WORKDIR, ContainerStack, docker_unavailable
from cartera_pipelines_tests.deploy.stack import ROOT

PASSWORD_ENV = "TNS_REHEARSAL_PASSWORD"

collect_ignore = [] if os.environ.get("CARTERA_REHEARSAL") == "1" else ["test_rehearsal.py"]


@dataclass
class Rehearsal:
    stack: ContainerStack
    simulator: object
    """The Contifico simulator server (``sandbox.contifico_simulator.SimulatorServer``)."""
    receiver: object
    """The webhook receiver (``sandbox.factoring.WebhookReceiver``)."""
    webhook_secret: str
    figures: dict[str, object] = field(default_factory=dict)


def _libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as dagster-postgres and MLflow want it (plain ``postgresql://``)."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    reason = docker_unavailable()
    if reason:
        pytest.fail(f"the container rehearsal cannot start: {reason}", pytrace=False)

    from cartera_pipelines.sandbox import tns as sandbox_tns
    from cartera_pipelines.sandbox.build import build_sandbox
    from cartera_pipelines.sandbox.contifico_simulator import make_server
    from cartera_pipelines.sandbox.factoring import WebhookReceiver
    from cartera_pipelines.sandbox.targets import SandboxTargets

    workdir = tmp_path_factory.mktemp("rehearsal")
    workdir.chmod(0o755)
    firebird = engines.firebird_server()
    tag = uuid.uuid4().hex[:6]
    with ExitStack() as cleanup:
        instance_url = cleanup.enter_context(engines.postgres_database())
        operations_url = cleanup.enter_context(engines.postgres_database())
        warehouse_url = cleanup.enter_context(engines.postgres_database())
        mlflow_url = cleanup.enter_context(engines.postgres_database())
        lending_url = cleanup.enter_context(engines.mysql_database())
        tns = firebird.tns_target(servers=(f"principal_{tag}", f"sucursal_{tag}"), password_env=PASSWORD_ENV)
        cleanup.callback(sandbox_tns.drop_firebird_databases, tns, sandbox_tns.database_paths(tns))
        targets = SandboxTargets(
            home=workdir / "sandbox",
            lending_url=lending_url,
            operations_url=operations_url,
            warehouse_url=warehouse_url,
            tns_servers_file=workdir / "etc" / "tns_servers.yaml",
            tns=tns,
        )
        started = time.monotonic()
        build_sandbox(targets)
        sandbox_seconds = time.monotonic() - started

        api_key, webhook_secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
        simulator = make_server(
            "127.0.0.1", 0, api_key=api_key, data_file=targets.contifico_data_file, reuse_existing=True
        )
        threading.Thread(target=simulator.serve_forever, daemon=True, name="contifico-sim").start()
        cleanup.callback(simulator.server_close)
        cleanup.callback(simulator.shutdown)
        receiver = cleanup.enter_context(WebhookReceiver(webhook_secret))

        shutil.copy(ROOT / "deploy" / "pools.yaml", workdir / "etc" / "pools.yaml")
        env = {
            "CARTERA_ENV": "production",
            "DAGSTER_PG_URL": _libpq(instance_url),
            "CARTERA_LENDING_URL": lending_url,
            "CARTERA_OPERATIONS_URL": operations_url,
            "CARTERA_WAREHOUSE_URL": warehouse_url,
            "CARTERA_TNS_SERVERS": f"{WORKDIR}/tns_servers.yaml",
            "CONTIFICO_API_BASE_URL": simulator.base_url,
            "CONTIFICO_API_KEY": api_key,
            "MLFLOW_TRACKING_URI": _libpq(mlflow_url),
            "CARTERA_WEBHOOK_URLS": receiver.url,
            "CARTERA_WEBHOOK_SECRET": webhook_secret,
            PASSWORD_ENV: firebird.password,
            "DAGSTER_DISABLE_TELEMETRY": "1",
            # a run container may need more than the default 60 s to load the code on a busy 2-core machine
            "DAGSTER_GRPC_TIMEOUT_SECONDS": "300",
        }
        stack = ContainerStack(workdir=workdir, env=env, forwarded=(PASSWORD_ENV,))
        cleanup.callback(stack.stop)
        world = Rehearsal(stack, simulator, receiver, webhook_secret)
        world.figures["sandbox_build_seconds"] = round(sandbox_seconds, 1)

        stack.start_code_server()
        stack.start_webserver()
        stack.wait_until_loaded(timeout=600)
        world.figures["docker_run_to_loaded_seconds"] = round(
            time.monotonic() - stack.started["code_server"], 1
        )
        output = stack.cartera("pools", "apply", "--config", f"{WORKDIR}/pools.yaml")
        assert "set tns_principal_" in output, output
        stack.stop_all_automation()
        stack.start_daemon()
        stack.wait_for_daemon(timeout=300)
        yield world
