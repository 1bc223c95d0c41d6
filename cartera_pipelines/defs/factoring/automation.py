"""factoring automation: the 00:30 Santiago overdue batch (then the exposure snapshot) and the outbox
sensor that requests a delivery run whenever undelivered events are due."""

import datetime as dt
import json
import time

import dagster as dg

from cartera_pipelines.defs.factoring.delivery import pending_summary
from cartera_pipelines.defs.factoring.overdue import CHILE
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import WebhookSender

OVERDUE = dg.AssetKey(["operations", "facturas_vencidas"])
EXPOSURE = dg.AssetKey(["warehouse", "factoring_exposure"])
DELIVERIES = dg.AssetKey(["operations", "outbox_deliveries"])
# A failed state stays the same for a while; a new run key per window lets backed-off events retry.
RETRY_WINDOW_SECONDS = 900

factoring_overdue_job = dg.define_asset_job(
    "factoring_overdue_job",
    selection=dg.AssetSelection.assets(OVERDUE, EXPOSURE),
    description="Mark overdue invoices (Chile's date), then snapshot credit exposure.",
    tags={"singleton": "factoring_overdue"},
)

factoring_deliver_job = dg.define_asset_job(
    "factoring_deliver_job",
    selection=dg.AssetSelection.assets(DELIVERIES),
    description="Deliver pending outbox events as signed webhooks.",
    tags={"singleton": "factoring_outbox"},
)


def overdue_run_config(as_of: dt.date) -> dict:
    config = {"config": {"as_of": as_of.isoformat()}}
    return {"ops": {"operations__facturas_vencidas": config, "warehouse__factoring_exposure": config}}


@dg.schedule(
    job=factoring_overdue_job,
    cron_schedule="30 0 * * *",
    execution_timezone="America/Santiago",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 00:30 America/Santiago: the batch runs for that Chile date.",
)
def factoring_overdue_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    moment = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    as_of = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(CHILE).date()
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
