"""Automation of the contifico family: the sync job, an hourly incremental schedule, a weekly full
refresh (the only sync that sees deletions of incrementally synced resources), and the family's
automation-condition sensor (the report tables follow the syncs)."""

from __future__ import annotations

import dagster as dg

# The module for the asset list: the defs loader collects every definition a module holds at its top level.
from cartera_pipelines.defs.contifico import assets
from cartera_pipelines.defs.contifico.assets import REPORT_KEYS, SYNCED_KEYS
from cartera_pipelines.defs.contifico.config import ContificoSyncConfig
from cartera_pipelines.lib.automation import automation_sensor
from cartera_pipelines.lib.k8s import k8s_resources

SINGLETON_TAG = {"singleton": "contifico_sync"}
"""The instance's run-tag limit (dagster.yaml, deploy/dagster.yaml: ``singleton``, 1 per value)."""
SYNC_SELECTION = dg.AssetSelection.assets(*SYNCED_KEYS, *REPORT_KEYS)
TIMEZONE = "America/Guayaquil"

contifico_sync_job = dg.define_asset_job(
    "contifico_sync_job",
    selection=SYNC_SELECTION,
    description="Sync every Contifico resource into the warehouse (incremental by default; see run config).",
    # Two syncs of the same resources at once would race on the cursor: one at a time.
    tags={**SINGLETON_TAG, **k8s_resources(cpu="250m", memory="512Mi", memory_limit="1Gi")},
)


def full_refresh_run_config() -> dg.RunConfig:
    """Run config asking every resource asset for a full scan (op names from the assets themselves)."""
    return dg.RunConfig(
        ops={
            sync.op.name: ContificoSyncConfig(full_refresh=True) for sync in assets.contifico_resource_assets
        }
    )


contifico_hourly_schedule = dg.ScheduleDefinition(
    name="contifico_hourly_schedule",
    job=contifico_sync_job,
    cron_schedule="0 * * * *",
    execution_timezone=TIMEZONE,
    description="Hourly incremental sync (records modified since the cursor, minus the overlap).",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

contifico_weekly_full_refresh_schedule = dg.ScheduleDefinition(
    name="contifico_weekly_full_refresh_schedule",
    job=contifico_sync_job,
    cron_schedule="30 2 * * 0",
    execution_timezone=TIMEZONE,
    run_config=full_refresh_run_config(),
    description="Sunday 02:30 full scan of every resource: detects deletions (marked deleted_at).",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

contifico_automation_sensor = automation_sensor("contifico")
