"""tns automation: the discovery sensor, the nightly re-extraction, the daily discovery, and the sensor that
evaluates the family's automation conditions (``api_key_companies`` follows ``tns_companies``)."""

import hashlib
import json
import time

import dagster as dg

from cartera_pipelines.defs.tns import assets, sql
from cartera_pipelines.defs.tns.companies import discover
from cartera_pipelines.defs.tns.concurrency import SERVER_TAG
from cartera_pipelines.defs.tns.partitions import company_year_partitions, nit_partitions
from cartera_pipelines.lib.k8s import k8s_resources
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.tns import TnsSource

tns_discover_job = dg.define_asset_job(
    "tns_discover_job",
    selection=dg.AssetSelection.assets(assets.tns_companies),
    description="Discover TNS company-years (the API key links follow by their automation condition).",
)
tns_extract_job = dg.define_asset_job(
    "tns_extract_job",
    selection=dg.AssetSelection.assets(assets.tns_inventory_movements),
    partitions_def=company_year_partitions,
    description="Extract the inventory movements of one company-year partition.",
    # streaming keeps memory bounded by the fetch size and queue depth (docs/production.md)
    tags=k8s_resources(cpu="500m", memory="1Gi", memory_limit="2Gi"),
)

SENSOR_BUDGET_SECONDS = 30.0
"""Stop polling servers after this long (the sensor tick limit is 60 s); the rest waits a tick."""


@dg.sensor(
    jobs=[tns_discover_job, tns_extract_job],
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls each TNS server's EMPRESAS; a new (or moved) company-year becomes a partition and gets an extraction run.",
)
def tns_companies_sensor(
    context: dg.SensorEvaluationContext, tns: TnsSource
) -> dg.SensorResult | dg.SkipReason:
    """Cursor: ``{company_year: "<server>:<archivo>"}`` of the company-years already requested.

    A server that is unreachable is skipped this tick (logged); its company-years are not forgotten,
    because the cursor only grows. On the first tick, partitions that are already materialized are
    taken as done so that turning the sensor on does not re-extract everything.
    """
    started = time.monotonic()
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    first_tick = not context.cursor
    per_server = []
    skipped: str | None = None
    for server in tns.servers():
        # Stop at the first server we cannot read: an earlier server wins duplicates, so company-years
        # of later servers could be copies of ones we have not seen. They wait for the next tick.
        if time.monotonic() - started > SENSOR_BUDGET_SECONDS or not tns.reachable(server, timeout=3.0):
            skipped = server.name
            break
        try:
            rows = sql.read_empresas(tns, server)
        except Exception as exc:
            context.log.warning(f"TNS server {server.name}: {type(exc).__name__}: {exc}")
            skipped = server.name
            break
        per_server.append((server.name, rows))
    if skipped:
        context.log.warning(
            f"TNS server {skipped} could not be polled; it and the servers after it wait a tick"
        )
    found = discover(per_server)
    instance = context.instance
    known = set(instance.get_dynamic_partitions(company_year_partitions.name))
    known_nits = set(instance.get_dynamic_partitions(nit_partitions.name))
    done = instance.get_materialized_partitions(assets.tns_inventory_movements.key) if first_tick else set()

    requests: list[dg.RunRequest] = []
    new_keys, cursor = [], dict(seen)
    for company in found.companies:
        key, version = company.key, company.version
        if key not in known:
            new_keys.append(key)
        if seen.get(key) == version:
            continue
        cursor[key] = version
        if key in done and key in known:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{key}@{version}",
                job_name=tns_extract_job.name,
                partition_key=key,
                tags={SERVER_TAG: company.server},
            )
        )
    new_nits = sorted({c.nit.number for c in found.companies} - known_nits)
    if new_keys or new_nits:
        # Refresh tns_companies (and the API key links) so the table matches the new partitions.
        digest = hashlib.sha1(",".join(sorted(new_keys) + new_nits).encode()).hexdigest()[:16]
        requests.insert(0, dg.RunRequest(run_key=f"discover:{digest}", job_name=tns_discover_job.name))
    partition_requests = []
    if new_keys:
        partition_requests.append(company_year_partitions.build_add_request(sorted(new_keys)))
    if new_nits:
        partition_requests.append(nit_partitions.build_add_request(new_nits))
    if not requests and not partition_requests:
        if cursor == seen:
            return dg.SkipReason(f"no new company-years on {len(per_server)} servers")
        # The first tick takes what is already extracted as done: remember it, request nothing.
        return dg.SensorResult(
            skip_reason=f"{len(cursor) - len(seen)} company-years already extracted",
            cursor=json.dumps(cursor, sort_keys=True),
        )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=partition_requests,
        cursor=json.dumps(cursor, sort_keys=True),
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

tns_automation_sensor = dg.AutomationConditionSensorDefinition(
    "tns_automation_sensor",
    target=dg.AssetSelection.assets(assets.api_key_companies.key),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the tns assets' automation conditions: api_key_companies after tns_companies.",
)
