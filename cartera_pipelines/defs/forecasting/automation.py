"""When the forecasting family runs: after a NIT's movements change, a weekly retrain of every NIT, and a
monthly scoring of past forecasts. The per-NIT chain after ``models/demand_models`` carries an
``AutomationCondition`` (it follows its parents), evaluated by ``forecasting_automation_sensor``."""

import dagster as dg

from cartera_pipelines.defs.forecasting.assets import DEMAND_MONTHLY, FORECAST_ACCURACY, MOVEMENTS
from cartera_pipelines.defs.tns.partitions import nit_partitions, split_company_year_key
from cartera_pipelines.lib.automation import automation_sensor
from cartera_pipelines.lib.k8s import k8s_resources

forecasting_automation_sensor = automation_sensor("forecasting")

forecasting_train_job = dg.define_asset_job(
    "forecasting_train_job",
    selection=dg.AssetSelection.groups("forecasting") - dg.AssetSelection.assets(FORECAST_ACCURACY),
    description="Demand, models, backtest, forecasts and purchase recommendations of one NIT.",
    # the statistical models run in parallel processes: give the run pod two cores (docs/production.md)
    tags=k8s_resources(cpu="2", memory="3Gi", memory_limit="6Gi"),
)


def _tags(nit: str) -> dict[str, str]:
    # One training per NIT at a time (run-tag limit `singleton` in dagster.yaml).
    return {"singleton": f"forecasting_{nit}"}


@dg.schedule(
    job=forecasting_train_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="America/Bogota",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekly retrain: every NIT, Mondays 03:00 Bogotá (after the nightly TNS extraction).",
)
def forecasting_weekly_schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | list[dg.RunRequest]:
    nits = sorted(context.instance.get_dynamic_partitions(nit_partitions.name))
    if not nits:
        return dg.SkipReason("no NIT partitions yet: the TNS discovery registers them")
    week = (
        context.scheduled_execution_time.strftime("%G-W%V") if context.scheduled_execution_time else "manual"
    )
    return [dg.RunRequest(run_key=f"{nit}:{week}", partition_key=nit, tags=_tags(nit)) for nit in nits]


forecasting_accuracy_job = dg.define_asset_job(
    "forecasting_accuracy_job",
    selection=dg.AssetSelection.assets(FORECAST_ACCURACY),
    description="Score every published forecast of one NIT against the demand that happened.",
)


@dg.schedule(
    job=forecasting_accuracy_job,
    cron_schedule="0 6 2 * *",
    execution_timezone="America/Bogota",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Monthly, the 2nd at 06:00 Bogotá (the month just closed is in demand_monthly): every NIT.",
)
def forecasting_accuracy_schedule(
    context: dg.ScheduleEvaluationContext,
) -> dg.SkipReason | list[dg.RunRequest]:
    nits = sorted(context.instance.get_dynamic_partitions(nit_partitions.name))
    if not nits:
        return dg.SkipReason("no NIT partitions yet: the TNS discovery registers them")
    month = (
        context.scheduled_execution_time.strftime("%Y-%m") if context.scheduled_execution_time else "manual"
    )
    return [dg.RunRequest(run_key=f"accuracy:{nit}:{month}", partition_key=nit) for nit in nits]


def nits_from_company_years(keys: list[str | None], known: set[str]) -> tuple[list[str], list[str]]:
    """NITs (registered ones) of the given company-year partition keys, and the keys that map to none."""
    nits, unknown = set(), []
    for key in keys:
        if key is None:
            continue
        try:
            nit, _ = split_company_year_key(key)
        except ValueError:
            unknown.append(key)
            continue
        if nit in known:
            nits.add(nit)
        else:
            unknown.append(key)
    return sorted(nits), unknown


@dg.sensor(
    job=forecasting_train_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrains a NIT after any of its company-years' movements is materialized.",
)
def tns_movements_updated_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    after = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=MOVEMENTS, after_storage_id=after), limit=1000, ascending=True
    ).records
    if not records:
        return dg.SkipReason("no new movements materializations")
    latest = max(r.storage_id for r in records)
    known = set(context.instance.get_dynamic_partitions(nit_partitions.name))
    nits, unknown = nits_from_company_years([r.partition_key for r in records], known)
    if unknown:
        context.log.info(
            f"company-years whose NIT is not a forecasting partition (yet): {', '.join(unknown[:10])}"
        )
    newest_movement: dict[str, int] = {}
    for record in records:
        if record.partition_key in unknown or record.partition_key is None:
            continue
        nit, _ = split_company_year_key(record.partition_key)
        newest_movement[nit] = max(newest_movement.get(nit, 0), record.storage_id)
    due = [nit for nit in nits if not _trained_after(context.instance, nit, newest_movement[nit])]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"{nit}:{latest}", partition_key=nit, tags=_tags(nit)) for nit in due
        ],
        cursor=str(latest),
    )


def _trained_after(instance: dg.DagsterInstance, nit: str, storage_id: int) -> bool:
    """Whether the NIT's training chain (its ``demand_monthly``) ran after the given movements event (the
    demo, a backfill or the weekly schedule may already have retrained it: no second run)."""
    trained = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=DEMAND_MONTHLY, asset_partitions=[nit]), limit=1, ascending=False
    ).records
    return bool(trained) and trained[0].storage_id > storage_id
