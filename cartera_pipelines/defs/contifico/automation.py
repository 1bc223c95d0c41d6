"""Automation of the contifico family: the sync job, an hourly incremental schedule and a weekly
full refresh (the only sync that sees deletions of incrementally synced resources)."""

from __future__ import annotations

import dagster as dg

from cartera_pipelines.defs.contifico.catalog import CATALOG
from cartera_pipelines.lib.k8s import k8s_resources

SYNC_SELECTION = dg.AssetSelection.groups("contifico")
TIMEZONE = "America/Guayaquil"

contifico_sync_job = dg.define_asset_job(
    "contifico_sync_job",
    selection=SYNC_SELECTION,
    description="Sync every Contifico resource into the warehouse (incremental by default; see run config).",
    # Two syncs of the same resources at once would race on the cursor: one at a time.
    tags={"singleton": "contifico_sync", **k8s_resources(cpu="250m", memory="512Mi", memory_limit="1Gi")},
)


def full_refresh_run_config() -> dict[str, object]:
    """Run config asking every resource asset for a full scan."""
    return {
        "ops": {
            f"warehouse__contifico_{resource.name}": {"config": {"full_refresh": True}}
            for resource in CATALOG
        }
    }


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
