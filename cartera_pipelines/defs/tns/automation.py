"""tns automation: the discovery sensor, the nightly re-extraction, the daily discovery, the hourly API key
expiry, and the sensor that evaluates the family's automation conditions (``api_key_companies`` follows
``tns_companies``)."""

import datetime as dt
import time

import dagster as dg

from cartera_pipelines.defs.tns import assets, sql
from cartera_pipelines.defs.tns.companies import EmpresaRow, discover
from cartera_pipelines.defs.tns.concurrency import SERVER_TAG
from cartera_pipelines.defs.tns.partitions import company_year_partitions, nit_partitions
from cartera_pipelines.defs.tns.tracking import SensorState, TickPlan, failure_line, plan_tick
from cartera_pipelines.lib.automation import automation_sensor
from cartera_pipelines.lib.dates import utcnow
from cartera_pipelines.lib.k8s import k8s_resources
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.tns import TnsSource

MAX_RETRIES = 2
RETRIES = {"dagster/max_retries": str(MAX_RETRIES), "dagster/retry_on_asset_or_op_failure": "true"}
"""A failed run is retried (bounded) by the instance's run retries (``run_retries`` in dagster.yaml): a
server restarting, a network cut. A wrong source fails the same way every time and stops there."""

tns_discover_job = dg.define_asset_job(
    "tns_discover_job",
    selection=dg.AssetSelection.assets(assets.tns_companies),
    description="Discover TNS company-years (the API key links follow by their automation condition).",
    tags=RETRIES,
)
tns_extract_job = dg.define_asset_job(
    "tns_extract_job",
    selection=dg.AssetSelection.assets(assets.tns_inventory_movements),
    description="Extract the inventory movements of one company-year partition.",
    # streaming keeps memory bounded by the fetch size and queue depth (docs/production.md)
    tags={**RETRIES, **k8s_resources(cpu="500m", memory="1Gi", memory_limit="2Gi")},
)
tns_api_keys_job = dg.define_asset_job(
    "tns_api_keys_job",
    selection=dg.AssetSelection.assets(assets.api_key_companies),
    description="Deactivate expired API keys and rebuild the key links (needs no TNS server).",
)

SENSOR_BUDGET_SECONDS = 30.0
"""Stop polling servers after this long (the sensor tick limit is 60 s); the rest waits a tick."""


def _poll(context: dg.SensorEvaluationContext, tns: TnsSource) -> list[tuple[str, list[EmpresaRow]]]:
    """EMPRESAS of the servers in order, up to the first one that cannot be read.

    An earlier server wins duplicates, so company-years of later servers could be copies of ones we have
    not seen: they wait for the next tick.
    """
    started = time.monotonic()
    per_server = []
    for server in tns.servers():
        if time.monotonic() - started > SENSOR_BUDGET_SECONDS or not tns.reachable(server, timeout=3.0):
            context.log.warning(
                f"TNS server {server.name} could not be polled; it and the servers after it wait a tick"
            )
            break
        try:
            per_server.append((server.name, sql.read_empresas(tns, server)))
        except Exception as exc:
            context.log.warning(
                f"TNS server {server.name}: {type(exc).__name__}: {exc}; it and the servers after it wait a tick"
            )
            break
    return per_server


def _report_failures(context: dg.SensorEvaluationContext, since: float | None) -> int:
    """One log line per run of the family's jobs that failed since ``since``; returns how many."""
    if since is None:
        return 0
    instance, reported = context.instance, 0
    for job in (tns_extract_job, tns_discover_job):
        records = instance.get_run_records(
            dg.RunsFilter(
                job_name=job.name,
                statuses=[dg.DagsterRunStatus.FAILURE],
                updated_after=dt.datetime.fromtimestamp(since, dt.UTC),
            )
        )
        for record in reversed(records):
            run = record.dagster_run
            failures = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
            error = failures[0].dagster_event.step_failure_data.error if failures else None
            while (
                error is not None
                and error.cause is not None
                and error.cls_name == "DagsterExecutionStepExecutionError"
            ):
                error = error.cause  # the user's error, not Dagster's wrapper
            context.log.warning(
                failure_line(
                    job.name,
                    run.run_id,
                    run.tags.get("dagster/partition"),
                    int(run.tags.get("dagster/retry_number") or 0),
                    int(run.tags.get("dagster/max_retries") or 0),
                    error.message.strip().splitlines()[0] if error else None,
                )
            )
            reported += 1
    return reported


def _requests(plan: TickPlan, discovery_mark: str) -> list[dg.RunRequest]:
    requests = [
        dg.RunRequest(
            run_key=f"{company.key}@{company.version}#{discovery_mark}",
            job_name=tns_extract_job.name,
            partition_key=company.key,
            tags={SERVER_TAG: company.server},
        )
        for company in plan.extract
    ]
    if plan.discover:
        requests.insert(
            0, dg.RunRequest(run_key=plan.discovery_run_key(discovery_mark), job_name=tns_discover_job.name)
        )
    return requests


@dg.sensor(
    jobs=[tns_discover_job, tns_extract_job],
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls each TNS server's EMPRESAS: a new company-year becomes a partition and is extracted; "
    "a moved one is discovered first, then extracted from its new place. Logs failed runs.",
)
def tns_companies_sensor(
    context: dg.SensorEvaluationContext, tns: TnsSource, warehouse_db: SqlDatabase
) -> dg.SensorResult | dg.SkipReason:
    """What it requests is decided in ``tracking.py``; its cursor is a :class:`SensorState`."""
    state = SensorState.from_cursor(context.cursor)
    checked_at = utcnow().timestamp()
    per_server = _poll(context, tns)
    found = discover(per_server)
    with warehouse_db.connect() as conn:
        discovered = sql.stored_locations(conn)
    instance = context.instance
    extracted = instance.get_materialized_partitions(assets.MOVEMENTS) if state.first_tick else None
    plan = plan_tick(found.companies, state, discovered, extracted)
    reported = _report_failures(context, state.failures_after)
    changed = reported or (plan.state.requested, plan.state.waiting) != (state.requested, state.waiting)
    if changed:
        plan.state.failures_after = checked_at  # failures are reported once; a quiet tick is a plain skip
    latest = instance.get_latest_materialization_event(assets.tns_companies.key)
    requests = _requests(plan, f"{latest.timestamp:.3f}" if latest else "none")
    new_keys = sorted(
        set(found.by_key()) - set(instance.get_dynamic_partitions(company_year_partitions.name))
    )
    new_nits = sorted(set(found.nits()) - set(instance.get_dynamic_partitions(nit_partitions.name)))
    partitions = [
        definition.build_add_request(keys)
        for definition, keys in ((company_year_partitions, new_keys), (nit_partitions, new_nits))
        if keys
    ]
    for key, where in plan.state.waiting.items():
        context.log.info(f"{key} moved to {where}: waiting for discovery before its extraction")
    if not requests and not partitions and not changed:
        return dg.SkipReason(f"nothing new on {len(per_server)} servers")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=partitions,
        cursor=plan.state.to_cursor(),
        skip_reason=None if requests or partitions else "nothing to request",
    )


@dg.schedule(
    job=tns_extract_job,
    cron_schedule="0 2 * * *",
    execution_timezone="America/Bogota",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night, re-extract each company's current (latest) fiscal year.",
)
def tns_nightly_schedule(
    context: dg.ScheduleEvaluationContext, warehouse_db: SqlDatabase
) -> list[dg.RunRequest] | dg.SkipReason:
    with warehouse_db.connect() as conn:
        rows = sql.latest_company_years(conn)
    if rows is None:
        return dg.SkipReason("tns_companies has not been materialized yet")
    if not rows:
        return dg.SkipReason("no TNS company-years discovered")
    day = (
        context.scheduled_execution_time.date().isoformat() if context.scheduled_execution_time else "manual"
    )
    return [
        dg.RunRequest(run_key=f"{key}:{day}", partition_key=key, tags={SERVER_TAG: server})
        for key, server in rows
    ]


tns_discovery_schedule = dg.ScheduleDefinition(
    name="tns_discovery_schedule",
    job=tns_discover_job,
    cron_schedule="30 1 * * *",
    execution_timezone="America/Bogota",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily discovery before the nightly extraction (the API key links follow it).",
)

tns_api_keys_schedule = dg.ScheduleDefinition(
    name="tns_api_keys_schedule",
    job=tns_api_keys_job,
    cron_schedule="5 * * * *",
    execution_timezone="America/Bogota",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour, deactivate expired API keys and unlink them, whatever the TNS servers' state.",
)

tns_automation_sensor = automation_sensor("tns")
