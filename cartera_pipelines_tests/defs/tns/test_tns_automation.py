"""The discovery sensor and the nightly schedule, evaluated against the SQLite sandbox."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time

import dagster as dg
import pytest

from cartera_pipelines.defs.tns import assets as tns_assets
from cartera_pipelines.defs.tns.automation import tns_companies_sensor, tns_extract_job, tns_nightly_schedule
from cartera_pipelines.defs.tns.concurrency import SERVER_TAG
from cartera_pipelines.resources.database import SqlDatabase

from .conftest import TnsSandbox, ephemeral_instance


def _tick(instance: dg.DagsterInstance, sandbox: TnsSandbox, cursor: str | None, warehouse: SqlDatabase):
    resources = {"tns": sandbox.source(), "warehouse_db": warehouse}
    started = time.monotonic()
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = tns_companies_sensor(context)
    assert time.monotonic() - started < 10  # far below the 60 s sensor limit
    return result


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_sensor_adds_partitions_requests_runs_and_remembers(
    sqlite_tns: TnsSandbox, warehouse: SqlDatabase
) -> None:
    with ephemeral_instance() as instance:
        # One partition already extracted before the sensor is turned on: not requested again.
        instance.add_dynamic_partitions("tns_company_years", ["860512330_2023"])
        assert dg.materialize(
            [tns_assets.tns_inventory_movements],
            instance=instance,
            partition_key="860512330_2023",
            resources={"tns": sqlite_tns.source(), "warehouse_db": warehouse},
        ).success

        result = _tick(instance, sqlite_tns, None, warehouse)
        assert isinstance(result, dg.SensorResult)
        extract = [r for r in result.run_requests if r.job_name == tns_extract_job.name]
        assert sorted(r.partition_key for r in extract) == sorted(
            [
                "800197268_2024",
                "800197268_2025",
                "860512330_2024",
                "860512330_2025",
                "900123456_2023",
                "900123456_2024",
                "900123456_2025",
                "901455782_2023",
                "901455782_2024",
                "901455782_2025",
            ]
        )
        assert {r.partition_key: r.tags[SERVER_TAG] for r in extract}["900123456_2025"] == "principal"
        assert {r.partition_key: r.tags[SERVER_TAG] for r in extract}["800197268_2024"] == "sucursal"
        assert len({r.run_key for r in result.run_requests}) == len(result.run_requests)
        assert [r.job_name for r in result.run_requests].count("tns_discover_job") == 1
        added = {
            req.partitions_def_name: set(req.partition_keys) for req in result.dynamic_partitions_requests
        }
        assert "860512330_2023" not in added["tns_company_years"] and len(added["tns_company_years"]) == 10
        assert added["tns_nits"] == {"800197268", "860512330", "900123456", "901455782"}
        cursor = json.loads(result.cursor)["requested"]
        assert len(cursor) == 11 and cursor["900123456_2025"].startswith("principal:")
        for req in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))

        assert isinstance(_tick(instance, sqlite_tns, result.cursor, warehouse), dg.SkipReason)

        # A new fiscal year appears on the second server.
        admin = sqlite_tns.source().server("sucursal").admin_path
        with sqlite3.connect(admin) as conn:
            conn.execute(
                "INSERT INTO EMPRESAS VALUES ('099', 'Ferretería El Álamo', '800197268-4', 2026, 'ALAMO_2025.db')"
            )
        again = _tick(instance, sqlite_tns, result.cursor, warehouse)
        assert isinstance(again, dg.SensorResult)
        assert [r.partition_key for r in again.run_requests if r.job_name == tns_extract_job.name] == [
            "800197268_2026"
        ]
        assert [set(r.partition_keys) for r in again.dynamic_partitions_requests] == [{"800197268_2026"}]


def test_sensor_waits_when_the_first_server_is_unreachable(sqlite_tns: TnsSandbox, tmp_path) -> None:
    warehouse = SqlDatabase(url=f"sqlite:///{tmp_path / 'warehouse.db'}", store="warehouse")
    broken = tmp_path / "servers.yaml"
    text = sqlite_tns.servers_file.read_text(encoding="utf-8")
    broken.write_text(text.replace("principal/ADMIN.db", "principal/MISSING.db"), encoding="utf-8")
    with ephemeral_instance() as instance:
        resources = {"tns": tns_assets.TnsSource(servers_file=str(broken)), "warehouse_db": warehouse}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = tns_companies_sensor(context)
        assert isinstance(result, dg.SkipReason)


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_nightly_schedule_reextracts_each_companys_latest_year(
    sqlite_tns: TnsSandbox, warehouse: SqlDatabase
) -> None:
    with ephemeral_instance() as instance:
        with dg.build_schedule_context(
            instance=instance,
            resources={"warehouse_db": warehouse},
            scheduled_execution_time=dt.datetime(2026, 1, 2, 2, 0),
        ) as context:
            assert isinstance(tns_nightly_schedule(context), dg.SkipReason)
        assert dg.materialize(
            [tns_assets.tns_companies],
            instance=instance,
            resources={"tns": sqlite_tns.source(), "warehouse_db": warehouse},
        ).success
        with dg.build_schedule_context(
            instance=instance,
            resources={"warehouse_db": warehouse},
            scheduled_execution_time=dt.datetime(2026, 1, 2, 2, 0),
        ) as context:
            requests = tns_nightly_schedule(context)
    assert {r.partition_key: r.tags[SERVER_TAG] for r in requests} == {
        "800197268_2025": "sucursal",
        "860512330_2025": "principal",
        "900123456_2025": "principal",
        "901455782_2025": "sucursal",
    }
    assert all(r.run_key.endswith(":2026-01-02") for r in requests)


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_first_tick_after_the_demo_requests_nothing_and_remembers(
    sqlite_tns: TnsSandbox, warehouse: SqlDatabase
) -> None:
    """After `make demo` (discovery, then every partition extracted) the sensor starts calm."""
    with ephemeral_instance() as instance:
        assert dg.materialize(
            [tns_assets.tns_companies, tns_assets.api_key_companies],
            instance=instance,
            resources={"tns": sqlite_tns.source(), "warehouse_db": warehouse},
        ).success
        for key in instance.get_dynamic_partitions("tns_company_years"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(tns_assets.tns_inventory_movements.key, partition=key)
            )
        # the key links follow discovery only when discovery ran without them
        family = dg.Definitions(
            assets=[tns_assets.tns_companies, tns_assets.api_key_companies],
            resources={"tns": sqlite_tns.source(), "warehouse_db": warehouse},
        )
        conditions = dg.evaluate_automation_conditions(defs=family, instance=instance)
        assert conditions.total_requested == 0
        assert dg.materialize(
            [tns_assets.tns_companies],
            instance=instance,
            resources={"tns": sqlite_tns.source(), "warehouse_db": warehouse},
        ).success
        conditions = dg.evaluate_automation_conditions(
            defs=family, instance=instance, cursor=conditions.cursor
        )
        assert (
            conditions.total_requested == conditions.get_num_requested(tns_assets.api_key_companies.key) == 1
        )

        first = _tick(instance, sqlite_tns, None, warehouse)
        assert isinstance(first, dg.SensorResult)
        assert first.run_requests == [] and first.dynamic_partitions_requests == []
        assert len(json.loads(first.cursor)["requested"]) == 11
        assert isinstance(_tick(instance, sqlite_tns, first.cursor, warehouse), dg.SkipReason)
