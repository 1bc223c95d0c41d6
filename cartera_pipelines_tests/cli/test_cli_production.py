"""The ``cartera`` commands in production mode: a variable a command needs and finds unset is one line
naming it, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cartera_pipelines.settings import VARIABLES


def cartera(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    ours = {v.name for v in VARIABLES}
    full_env = {k: v for k, v in os.environ.items() if k not in ours} | env
    return subprocess.run(
        [sys.executable, "-m", "cartera_pipelines.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_command_needing_an_unset_store_names_it(tmp_path: Path) -> None:
    result = cartera("api-keys", "list", env={"CARTERA_ENV": "production", "CARTERA_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip() == (
        "Error: CARTERA_WAREHOUSE_URL is not set (CARTERA_ENV=production has no sandbox fallback)"
    )


def test_pools_apply_warns_that_the_servers_file_is_not_set(tmp_path: Path) -> None:
    result = cartera(
        "pools", "apply", "--dry-run", env={"CARTERA_ENV": "production", "CARTERA_HOME": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    assert "no TNS pools: CARTERA_TNS_SERVERS is not set" in result.stderr
    assert "would set lending_db" in result.stdout


def test_an_unknown_mode_is_one_line(tmp_path: Path) -> None:
    result = cartera("api-keys", "list", env={"CARTERA_ENV": "staging", "CARTERA_HOME": str(tmp_path)})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert "CARTERA_ENV must be one of sandbox, production, got 'staging'" in result.stderr


def test_the_sandbox_is_never_built_or_served_in_production_mode(tmp_path: Path) -> None:
    """A sandbox build drops and recreates tables: in production mode it would do so in production."""
    store = f"sqlite:///{tmp_path / 'precious.db'}"
    env = {"CARTERA_ENV": "production", "CARTERA_HOME": str(tmp_path), "CARTERA_OPERATIONS_URL": store}
    built = cartera("sandbox", "build", env=env)
    assert built.returncode == 1 and "Traceback" not in built.stderr
    assert "never built in production mode" in built.stderr
    assert not (tmp_path / "precious.db").exists()
    served = cartera("sandbox", "serve", "--port", "0", "--webhook-port", "0", env=env)
    assert served.returncode == 1 and "do not run in production mode" in served.stderr
