"""The assignment job (one run at a time through the instance's `singleton` tag limit) and its schedule."""

import dagster as dg

from cartera_pipelines.defs.collections.assets import CONTRACT_ADVISORS
from cartera_pipelines.defs.collections.config import SINGLETON_TAG
from cartera_pipelines.defs.collections.partitions import collections_days
from cartera_pipelines.lib.dates import BOGOTA, local_date

collections_assign_job = dg.define_asset_job(
    name="collections_assign_job",
    selection=dg.AssetSelection.assets(CONTRACT_ADVISORS).downstream(),
    partitions_def=collections_days,
    description=(
        "The daily assignment of overdue contracts to collection houses and its reports, for one day in "
        "Bogotá (the partition). Tagged `singleton: collections_assignment`: the instance runs one at a "
        "time, a second request waits queued."
    ),
    tags=SINGLETON_TAG,
)


@dg.schedule(
    name="collections_daily_schedule",
    job=collections_assign_job,
    cron_schedule="0 7 * * *",
    execution_timezone=BOGOTA.key,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 07:00 Bogotá: the assignment of that day (its partition).",
)
def collections_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    # The run date is the scheduled day in Bogotá, not the day the run happens to start (a queued run
    # that starts after midnight still assigns for its own day).
    day = local_date(context.scheduled_execution_time, BOGOTA).isoformat()
    return dg.RunRequest(run_key=f"collections_assignment_{day}", partition_key=day, tags=SINGLETON_TAG)
