"""The instance configurations load, and an asset materializes on a PostgreSQL-backed instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _config(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", ["dagster.yaml", "deploy/dagster.yaml"])
def test_instance_config_has_singleton_limit_pools_and_monitoring(name: str) -> None:
    config = _config(name)
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    singleton = next(limit for limit in limits if limit["key"] == "singleton")
    assert singleton["limit"] == 1 and singleton["value"] == {"applyLimitPerUniqueValue": True}
    assert config["concurrency"]["pools"]["default_limit"] >= 1
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0


def test_local_instance_config_is_valid(tmp_path: Path) -> None:
    config = _config("dagster.yaml")
    with dg.instance_for_test(overrides=config, temp_dir=str(tmp_path)) as instance:
        assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 2


def test_materialize_on_postgres_backed_instance(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real project asset (the factoring overdue batch, operations store on PostgreSQL too) runs on an
    instance whose run, event and schedule storage is the real PostgreSQL (deploy/dagster.yaml)."""
    from cartera_pipelines.defs.factoring.assets import facturas_vencidas
    from cartera_pipelines.resources import SqlDatabase
    from cartera_pipelines.sandbox import factoring
    from cartera_pipelines.sandbox.targets import SandboxTargets
    from cartera_pipelines_tests.engines import postgres_database

    with postgres_database() as operations_url:
        targets = SandboxTargets(
            home=tmp_path,
            lending_url=f"sqlite:///{tmp_path}/l.db",
            operations_url=operations_url,
            warehouse_url=f"sqlite:///{tmp_path}/w.db",
            tns_servers_file=tmp_path / "tns.yaml",
        )
        factoring.build(targets, scale=1, seed=3)
        monkeypatch.setenv("DAGSTER_PG_URL", postgres_url.replace("postgresql+psycopg2", "postgresql"))
        config = _config("deploy/dagster.yaml")
        with dg.instance_for_test(overrides=config, temp_dir=str(tmp_path)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            operations_db = SqlDatabase(url=operations_url)
            result = dg.materialize(
                [facturas_vencidas], instance=instance, resources={"operations_db": operations_db}
            )
            operations_db.dispose()
            assert result.success
            event = instance.get_latest_materialization_event(
                dg.AssetKey(["operations", "facturas_vencidas"])
            )
            assert event is not None
            assert event.asset_materialization.metadata["dagster/row_count"].value >= 0
