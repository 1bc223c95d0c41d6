"""Chile's calendar days: the partitions of the exposure snapshots, and how the latest one follows the batch.

A partition key is a Chile date (``2026-03-09``); today's date is already a partition (``end_offset=1``),
because the batch runs at 00:30 in Santiago for the day that has just begun. The UI shows a day that has
no snapshot, and a backfill fills it.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from cartera_pipelines.lib.dates import SANTIAGO, parse_date

# The first day an exposure snapshot can be asked for (the history kept before partitions starts later).
FIRST_DAY = "2026-01-01"

chile_days = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone=SANTIAGO.key, end_offset=1)

# What eager() does, minus "a new day's partition appeared": at midnight the new day's snapshot would
# otherwise run once before the 00:30 batch and once after it. The external sources (clientes, …) have no
# materializations, so only the batch can update or be in progress; missing sources must not block.
after_parents_latest_day = (
    dg.AutomationCondition.in_latest_time_window()
    & dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("latest Chile day, after its parents update")


def day_of(partition_key: str) -> dt.date:
    """The Chile date a partition key names."""
    return parse_date(partition_key, "partition key")
