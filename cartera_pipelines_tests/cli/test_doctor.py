"""``cartera doctor`` pinpoints each broken store in one line and exits non-zero; all OK on the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cartera_pipelines.sandbox.build import build_sandbox
from cartera_pipelines.sandbox.contifico_simulator import make_server
from cartera_pipelines.sandbox.defaults import CONTIFICO_API_KEY as SANDBOX_CONTIFICO_API_KEY
from cartera_pipelines.sandbox.targets import targets_from_settings
from cartera_pipelines.settings import REQUIRED_IN_PRODUCTION, load_settings
from cartera_pipelines_tests.engines import MYSQL_ADMIN_URL, PG_ADMIN_URL


def run_doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CARTERA_", "CONTIFICO_", "MLFLOW_"))
    }
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "cartera_pipelines.cli", "doctor"],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines_for(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if line.split()[1:2] == [name]]


@pytest.fixture
def sandbox_home(cartera_env: Path) -> Path:
    build_sandbox(targets_from_settings(load_settings()))
    return cartera_env


def test_all_ok_on_the_built_sandbox(sandbox_home: Path) -> None:
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_doctor(
            {
                "CARTERA_HOME": str(sandbox_home),
                "CONTIFICO_API_BASE_URL": f"http://127.0.0.1:{server.server_port}/sistema/api/",
            }
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    for name in ("lending", "operations", "warehouse", "contifico", "mlflow", "webhooks"):
        assert lines_for(result.stdout, name)[0].startswith("OK")


def test_each_broken_store_is_one_clear_line(tmp_path: Path) -> None:
    pg_base = PG_ADMIN_URL.rsplit("/", 1)[0]
    mysql_host = MYSQL_ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0]
    result = run_doctor(
        {
            "CARTERA_HOME": str(tmp_path),
            "CARTERA_LENDING_URL": f"mysql+pymysql://root:not-the-password@{mysql_host}/test",
            "CARTERA_OPERATIONS_URL": f"{pg_base}/cartera_no_such_database",
            "CARTERA_WAREHOUSE_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/warehouse",
            "CARTERA_TNS_SERVERS": str(tmp_path / "nowhere.yaml"),
            "CONTIFICO_API_BASE_URL": "http://127.0.0.1:1/sistema/api/",
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:1",
        }
    )
    out = result.stdout
    assert result.returncode == 1
    assert "Traceback" not in out + result.stderr
    expectations = {
        "lending": ("wrong user or password", "CARTERA_LENDING_URL"),
        "operations": ("'cartera_no_such_database' does not exist", "CARTERA_OPERATIONS_URL"),
        "warehouse": ("cannot reach 127.0.0.1:1", "CARTERA_WAREHOUSE_URL"),
        "tns": ("does not exist", "CARTERA_TNS_SERVERS"),
        "contifico": ("cannot reach", "CONTIFICO_API_BASE_URL"),
        "mlflow": ("does not answer", "MLFLOW_TRACKING_URI"),
    }
    for name, (problem, variable) in expectations.items():
        (line,) = lines_for(out, name)
        assert line.startswith("FAIL") and problem in line and variable in line, line
    assert "not-the-password" not in out


def test_missing_sandbox_says_how_to_build_it(cartera_env: Path) -> None:
    result = run_doctor({"CARTERA_HOME": str(cartera_env)})
    assert result.returncode == 1
    assert "cartera sandbox build" in lines_for(result.stdout, "lending")[0]


def test_rejected_contifico_key_names_the_variable(cartera_env: Path) -> None:
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_doctor(
            {
                "CARTERA_HOME": str(cartera_env),
                "CONTIFICO_API_BASE_URL": f"http://127.0.0.1:{server.server_port}/sistema/api/",
                "CONTIFICO_API_KEY": "wrong-key",
            }
        )
    finally:
        server.shutdown()
    (line,) = lines_for(result.stdout, "contifico")
    assert line.startswith("FAIL") and "CONTIFICO_API_KEY" in line and "wrong-key" not in result.stdout


def test_production_mode_lists_every_missing_variable_at_once(tmp_path: Path) -> None:
    result = run_doctor({"CARTERA_ENV": "production", "CARTERA_HOME": str(tmp_path)})
    out = result.stdout
    assert result.returncode == 1
    assert "Traceback" not in out + result.stderr
    assert out.splitlines()[0].startswith("checking production mode (CARTERA_ENV=production)")
    for variable in REQUIRED_IN_PRODUCTION:
        (line,) = [ln for ln in out.splitlines() if variable in ln]
        assert line.startswith("FAIL") and line.endswith(
            f"{variable} is not set (CARTERA_ENV=production has no sandbox fallback)"
        )
    assert out.splitlines()[-1] == f"0 OK, {len(REQUIRED_IN_PRODUCTION)} failing (production mode)"
    assert not (tmp_path / "lending.db").exists()  # nothing was probed, no SQLite file created


def test_production_mode_checks_what_is_set_and_names_what_is_not(sandbox_home: Path) -> None:
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home = sandbox_home.resolve()
    (home / "mlflow.db").touch()  # an empty SQLite file (a configured store must exist)
    try:
        result = run_doctor(
            {
                "CARTERA_ENV": "production",
                "CARTERA_HOME": str(home),
                "CARTERA_LENDING_URL": f"sqlite:///{home}/lending.db",
                "CARTERA_OPERATIONS_URL": f"sqlite:///{home}/operations.db",
                "CARTERA_WAREHOUSE_URL": f"sqlite:///{home}/warehouse.db",
                "CARTERA_TNS_SERVERS": str(home / "tns_servers.yaml"),
                "CONTIFICO_API_BASE_URL": f"http://127.0.0.1:{server.server_port}/sistema/api/",
                "CONTIFICO_API_KEY": SANDBOX_CONTIFICO_API_KEY,
                "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
                "CARTERA_WEBHOOK_SECRET": "s3cret",
            }
        )
    finally:
        server.shutdown()
    out = result.stdout
    assert result.returncode == 1, out
    failing = [ln for ln in out.splitlines() if ln.startswith("FAIL")]
    assert failing == [
        "FAIL  webhooks     CARTERA_WEBHOOK_URLS is not set (CARTERA_ENV=production has no sandbox fallback)"
    ]
    for name in ("lending", "operations", "warehouse", "tns:principal", "contifico", "mlflow"):
        assert lines_for(out, name)[0].startswith("OK"), out
    assert "s3cret" not in out


def test_sandbox_mode_says_so(cartera_env: Path) -> None:
    result = run_doctor({"CARTERA_HOME": str(cartera_env)})
    assert result.stdout.splitlines()[0] == (
        "checking sandbox mode (CARTERA_ENV unset): unset variables use the embedded sandbox"
    )
    assert result.stdout.splitlines()[-1].endswith("(sandbox mode)")
