"""factoring automation: the 00:30 Santiago overdue batch, the exposure snapshot that follows it, and the
outbox sensor that requests a delivery run whenever undelivered events are due.

``warehouse/factoring_exposure`` carries its own automation condition (``partitions.after_parents_latest_day``:
today's Chile partition, after the batch updates); ``factoring_automation_sensor`` evaluates it.
"""

import datetime as dt
import json
import time

import dagster as dg

# The module, not its names: the defs loader collects every asset a module holds at its top level.
from cartera_pipelines.defs.factoring import assets
from cartera_pipelines.defs.factoring.config import OverdueConfig
from cartera_pipelines.defs.factoring.delivery import pending_summary
from cartera_pipelines.lib.automation import automation_sensor
from cartera_pipelines.lib.dates import SANTIAGO, local_date, utcnow
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import WebhookSender

# A failed state stays the same for a while; a new run key per window lets backed-off events retry.
RETRY_WINDOW_SECONDS = 900

factoring_overdue_job = dg.define_asset_job(
    "factoring_overdue_job",
    selection=dg.AssetSelection.assets(assets.facturas_vencidas),
    description="Mark overdue invoices (Chile's date); the exposure snapshot of the day follows it.",
    tags={"singleton": "factoring_overdue"},
)

factoring_deliver_job = dg.define_asset_job(
    "factoring_deliver_job",
    selection=dg.AssetSelection.assets(assets.outbox_deliveries),
    description="Deliver pending outbox events as signed webhooks.",
    tags={"singleton": "factoring_outbox"},
)

factoring_automation_sensor = automation_sensor("factoring")


def overdue_run_config(as_of: dt.date) -> dg.RunConfig:
    return dg.RunConfig(ops={assets.facturas_vencidas.op.name: OverdueConfig(as_of=as_of.isoformat())})


@dg.schedule(
    job=factoring_overdue_job,
    cron_schedule="30 0 * * *",
    execution_timezone=SANTIAGO.key,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 00:30 America/Santiago: the batch runs for that Chile date.",
)
def factoring_overdue_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    as_of = local_date(context.scheduled_execution_time or utcnow(), SANTIAGO)
    return dg.RunRequest(run_key=f"facturas_vencidas:{as_of}", run_config=overdue_run_config(as_of))


@dg.sensor(
    job=factoring_deliver_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a delivery run when outbox events are waiting (new, or past their backoff).",
)
def outbox_sensor(
    context: dg.SensorEvaluationContext, operations_db: SqlDatabase, webhooks: WebhookSender
) -> dg.SensorResult | dg.SkipReason:
    count, max_id, attempts = pending_summary(operations_db)
    cursor = json.loads(context.cursor) if context.cursor else {}
    if count == 0:
        seen = cursor.get("max_id", 0)
        return dg.SkipReason(f"no undelivered events due (highest id requested so far: {seen})")
    if not webhooks.configured:
        return dg.SkipReason(
            f"{count} events waiting but no webhook endpoint is configured (CARTERA_WEBHOOK_URLS)"
        )
    # Same pending state → same key → Dagster does not start a duplicate; any delivery, failure or new
    # event changes the key, and the time window lets an unchanged (backed-off) state retry later.
    window = int(time.time()) // RETRY_WINDOW_SECONDS
    run_key = f"outbox:{max_id}:{count}:{attempts}:{window}"
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"outbox_pending": str(count)})],
        cursor=json.dumps({"max_id": max(max_id, cursor.get("max_id", 0)), "pending": count}),
    )
