"""Definitions of the family: asset keys, job, schedules and their run config."""

from __future__ import annotations

import dagster as dg

from cartera_pipelines.defs.contifico import assets, automation, checks
from cartera_pipelines.defs.contifico.catalog import CATALOG
from cartera_pipelines.resources import build_resources


def _defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            assets.contifico_api,
            *assets.contifico_resource_assets,
            assets.contifico_sync_state,
            assets.contifico_rejects,
            assets.contifico_schema_drift,
        ],
        asset_checks=[*checks.contifico_resource_checks, checks.every_resource_synced],
        jobs=[automation.contifico_sync_job],
        schedules=[automation.contifico_hourly_schedule, automation.contifico_weekly_full_refresh_schedule],
        resources=build_resources(),  # configuration only: building them opens no connection
    )


def test_asset_keys_groups_pools_and_kinds() -> None:
    specs = {s.key.to_user_string(): s for a in assets.contifico_resource_assets for s in a.specs}
    children = {f"warehouse/{c.table_name}" for r in CATALOG for c in r.children}
    assert set(specs) == {f"warehouse/contifico_{r.name}" for r in CATALOG} | children
    assert "warehouse/contifico_sales_lines" in children and len(children) == 6
    for spec in specs.values():
        assert {"rest", "postgres"} <= set(spec.kinds)
        assert dg.AssetKey(["contifico", "api"]) in {d.asset_key for d in spec.deps}
        assert spec.description and "dagster/column_schema" in spec.metadata
    assert all(a.op.pool == "contifico_api" for a in assets.contifico_resource_assets)
    state = next(iter(assets.contifico_sync_state.specs))
    assert len(state.deps) == 17


def test_the_job_selects_the_family_and_runs_one_at_a_time(cartera_env: object) -> None:
    job = _defs().resolve_job_def("contifico_sync_job")
    assert len(job.asset_layer.executable_asset_keys) == 17 + 6 + 3
    assert job.tags["singleton"] == "contifico_sync"


def test_hourly_schedule_requests_an_incremental_run(cartera_env: object) -> None:
    schedule = automation.contifico_hourly_schedule
    assert schedule.cron_schedule == "0 * * * *" and schedule.job_name == "contifico_sync_job"
    with dg.build_schedule_context() as context:
        (request,) = schedule.evaluate_tick(context).run_requests or []
    assert request.run_config == {}


def test_weekly_full_refresh_config_is_valid_for_the_job(cartera_env: object) -> None:
    defs = _defs()
    job = defs.resolve_job_def("contifico_sync_job")
    with dg.build_schedule_context() as context:
        (request,) = (
            automation.contifico_weekly_full_refresh_schedule.evaluate_tick(context).run_requests or []
        )
    ops = request.run_config["ops"]
    assert len(ops) == 17 and all(v["config"]["full_refresh"] is True for v in ops.values())
    assert dg.validate_run_config(job, request.run_config)


def test_definitions_load_without_io(cartera_env: object) -> None:
    _defs().resolve_all_job_defs()
