"""Jobs, the approved-loans sensor and the daily sweep of the loans family.

* ``loans_schedule_job`` materializes ``operations/cuotas`` (with its checks). Runs carry the tag
  ``singleton: loans_schedule`` so the sensor's runs and the sweep never write schedules at the same time.
* ``approved_loans_sensor`` (every minute) looks for APROBADO loans with an id above its cursor (the
  highest approved id it has already requested) and requests one run per tick for that batch, with the
  run key ``approved-loans-<first>-<last>``: a tick evaluated twice never requests the same work twice.
  A loan approved after a loan with a higher id was already seen is picked up by the next run or the
  daily sweep, because every run schedules every approved loan that needs it (not only the batch).
* ``loans_daily_sweep_schedule`` (05:00 America/Bogota) runs the same job with ``as_of`` = that day:
  it schedules anything missed and refreshes every installment's estado (ATRASADO as due dates pass).
"""

import json

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.loans.tables import ESTADO_APROBADO, prestamos
from cartera_pipelines.resources.database import SqlDatabase

CUOTAS_KEY = dg.AssetKey(["operations", "cuotas"])
CUOTAS_OP = "operations__cuotas"
MAX_IDS_PER_TICK = 50_000

loans_schedule_job = dg.define_asset_job(
    name="loans_schedule_job",
    selection=dg.AssetSelection.assets(CUOTAS_KEY),
    description="Generate missing amortization schedules and refresh installment status (operations/cuotas).",
    tags={"singleton": "loans_schedule"},
)


def _cursor_max_id(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(json.loads(cursor).get("max_id", 0))


@dg.sensor(
    name="approved_loans_sensor",
    job=loans_schedule_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a schedule run when loans with a new, higher id are APROBADO.",
)
def approved_loans_sensor(context: dg.SensorEvaluationContext, operations_db: SqlDatabase) -> dg.SensorResult:
    seen = _cursor_max_id(context.cursor)
    new_ids = (
        sa.select(prestamos.c.id)
        .where(prestamos.c.estado == ESTADO_APROBADO, prestamos.c.id > seen)
        .order_by(prestamos.c.id)
        .limit(MAX_IDS_PER_TICK)
        .subquery()
    )
    query = sa.select(sa.func.min(new_ids.c.id), sa.func.max(new_ids.c.id), sa.func.count()).select_from(
        new_ids
    )
    with operations_db.connect() as conn:
        first, last, count = conn.execute(query).one()
    if not count:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no approved loans with id > {seen}"))
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"approved-loans-{first}-{last}",
                tags={"loans/first_id": str(first), "loans/last_id": str(last), "loans/count": str(count)},
            )
        ],
        cursor=json.dumps({"max_id": int(last)}),
    )


@dg.schedule(
    name="loans_daily_sweep_schedule",
    job=loans_schedule_job,
    cron_schedule="0 5 * * *",
    execution_timezone="America/Bogota",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily: schedule any approved loan still missing one and refresh installment estado as of today.",
)
def loans_daily_sweep_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(
        run_key=f"loans-sweep-{day}",
        run_config={"ops": {CUOTAS_OP: {"config": {"as_of": day}}}},
        tags={"loans/as_of": day},
    )
