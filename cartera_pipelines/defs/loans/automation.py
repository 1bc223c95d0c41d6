"""The job, the approved-loans sensor and the daily sweep of the loans family.

* ``loans_amortization_job`` materializes ``operations/cuotas`` (the amortization schedules, with their
  checks). Runs carry the tag ``singleton: loans_amortization`` so the sensor's runs and the sweep never
  write schedules at the same time.
* ``approved_loans_sensor`` (every minute) looks for APROBADO loans with an id above its cursor (the
  highest approved id already covered) and requests one run per tick for that batch, with the run key
  ``approved-loans-<first>-<last>``: a tick evaluated twice never requests the same work twice. With an
  empty cursor it starts from the current state: the highest approved id the latest materialization of
  ``operations/cuotas`` covered (metadata ``last_approved_id``), so a fresh daemon after ``make demo``
  does not request the work already done. A loan approved after a loan with a higher id was already
  seen is picked up by the next run or the daily sweep, because every run schedules every approved loan
  that needs it (not only the batch).
* ``loans_daily_sweep_schedule`` (05:00 America/Bogota) runs the same job with ``as_of`` = that day:
  it schedules anything missed and refreshes every installment's estado (ATRASADO as due dates pass).
"""

from __future__ import annotations

import json

import dagster as dg

from cartera_pipelines.defs.loans import assets, sql
from cartera_pipelines.defs.loans.config import CuotasConfig
from cartera_pipelines.resources.database import SqlDatabase

MAX_IDS_PER_TICK = 50_000
RECENT_MATERIALIZATIONS = 20

loans_amortization_job = dg.define_asset_job(
    name="loans_amortization_job",
    selection=dg.AssetSelection.assets(assets.operations_cuotas),
    description="Generate missing amortization schedules and refresh installment status (operations/cuotas).",
    tags={"singleton": "loans_amortization"},
)


def covered_by_materializations(instance: dg.DagsterInstance) -> int:
    """The highest approved loan id the latest full materialization of ``operations/cuotas`` covered (0: none)."""
    records = instance.fetch_materializations(
        assets.operations_cuotas.key, limit=RECENT_MATERIALIZATIONS
    ).records
    for record in records:  # newest first
        materialization = record.asset_materialization
        value = materialization.metadata.get(assets.LAST_APPROVED_ID) if materialization else None
        if value is not None:
            return int(value.value)
    return 0


def _cursor_max_id(context: dg.SensorEvaluationContext) -> int:
    if context.cursor:
        return int(json.loads(context.cursor).get("max_id", 0))
    return covered_by_materializations(context.instance)


@dg.sensor(
    name="approved_loans_sensor",
    job=loans_amortization_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a schedule run when loans with a new, higher id are APROBADO.",
)
def approved_loans_sensor(context: dg.SensorEvaluationContext, operations_db: SqlDatabase) -> dg.SensorResult:
    seen = _cursor_max_id(context)
    with operations_db.connect() as conn:
        first, last, count = sql.approved_ids_after(conn, seen, MAX_IDS_PER_TICK)
    if not count:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"no approved loans with id > {seen}"),
            cursor=json.dumps({"max_id": seen}),
        )
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
    job=loans_amortization_job,
    cron_schedule="0 5 * * *",
    execution_timezone="America/Bogota",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily: schedule any approved loan still missing one and refresh installment estado as of today.",
)
def loans_daily_sweep_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(
        run_key=f"loans-sweep-{day}",
        run_config=dg.RunConfig(ops={assets.operations_cuotas.op.name: CuotasConfig(as_of=day)}),
        tags={"loans/as_of": day},
    )
