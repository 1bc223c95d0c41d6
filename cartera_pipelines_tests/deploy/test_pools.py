"""``cartera pools apply|list`` sizes the instance's pools from configuration (SQLite and PostgreSQL instances)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from cartera_pipelines.cli import main
from cartera_pipelines.cli.pools import DEFAULT_LIMITS

ROOT = Path(__file__).resolve().parents[2]


def _servers_file(home: Path, servers: dict[str, int]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "tns_servers.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "servers": [
                    {"name": n, "driver": "sqlite", "admin_path": f"{n}/ADMIN.db", "max_concurrent": m}
                    for n, m in servers.items()
                ]
            }
        )
    )
    return path


@pytest.fixture
def local_instance(cartera_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _limits(dagster_home: Path) -> dict[str, int]:
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        storage = instance.event_log_storage
        return {key: storage.get_concurrency_info(key).slot_count for key in storage.get_concurrency_keys()}
    finally:
        instance.dispose()


def test_apply_sets_defaults_and_one_pool_per_tns_server(cartera_env: Path, local_instance: Path) -> None:
    _servers_file(cartera_env, {"bogota": 3, "medellin": 1})
    result = CliRunner().invoke(main, ["pools", "apply"])
    assert result.exit_code == 0, result.output
    assert _limits(local_instance) == {**DEFAULT_LIMITS, "tns_bogota": 3, "tns_medellin": 1}
    assert "tns_bogota" in result.output and "(servers file)" in result.output


def test_config_file_overrides_and_list_shows_it(
    cartera_env: Path, local_instance: Path, tmp_path: Path
) -> None:
    _servers_file(cartera_env, {"bogota": 3})
    config = tmp_path / "pools.yaml"
    config.write_text("pools:\n  tns_bogota: 5\n  warehouse_db: 8\n  collections_assignment: 1\n")
    runner = CliRunner()
    assert runner.invoke(main, ["pools", "apply", "--config", str(config)]).exit_code == 0
    # applying again with other numbers resizes (limits are configuration, not history)
    config.write_text("pools:\n  tns_bogota: 4\n")
    applied = runner.invoke(main, ["pools", "apply", "--config", str(config)])
    assert applied.exit_code == 0, applied.output
    limits = _limits(local_instance)
    assert limits["tns_bogota"] == 4 and limits["warehouse_db"] == DEFAULT_LIMITS["warehouse_db"]
    assert limits["collections_assignment"] == 1  # set by the first apply, untouched by the second
    listed = runner.invoke(main, ["pools", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(ln for ln in listed.output.splitlines() if ln.startswith("tns_bogota"))
    assert line.split()[1:4] == ["4", "0", "0"]
    assert "instance default limit: 2" in listed.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pools:\n  lending_db: 0\n", "pool 'lending_db', field 'limit': must be at least 1"),
        ("pools:\n  lending_db: two\n", "pool 'lending_db', field 'limit': must be an integer"),
        ("pools: [lending_db]\n", "top-level 'pools' must be a mapping"),
        ("pools: {lending_db: 2\n", "not valid YAML"),
    ],
)
def test_bad_pools_file_is_refused_with_the_reason(
    cartera_env: Path, local_instance: Path, tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "pools.yaml"
    config.write_text(text)
    result = CliRunner().invoke(main, ["pools", "apply", "--config", str(config)])
    assert result.exit_code != 0
    assert message in result.output and str(config) in result.output
    assert _limits(local_instance) == {}  # nothing half-applied


def test_dry_run_needs_no_instance_and_warns_without_servers_file(
    cartera_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(main, ["pools", "apply", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would set lending_db" in result.output
    assert "no TNS pools" in result.output and "CARTERA_TNS_SERVERS" in result.output


def test_missing_instance_names_dagster_home(
    cartera_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(main, ["pools", "apply"])
    assert result.exit_code != 0
    assert "DAGSTER_HOME" in result.output


@pytest.mark.postgres
def test_apply_on_the_postgres_instance(
    cartera_env: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url.replace("postgresql+psycopg2://", "postgresql://"))
    _servers_file(cartera_env, {"principal": 2})
    result = CliRunner().invoke(main, ["pools", "apply"])
    assert result.exit_code == 0, result.output
    assert _limits(home) == {**DEFAULT_LIMITS, "tns_principal": 2}


def test_the_shipped_pools_file_is_valid() -> None:
    from cartera_pipelines.cli.pools import load_pools_file

    limits = load_pools_file(ROOT / "deploy" / "pools.yaml")
    assert set(DEFAULT_LIMITS) <= set(limits)
