"""One partition per day in Bogotá: the run date of the assignment and of its reports.

The assignment of day D is ``operations/contract_advisors`` partition D (what the houses hold once D's
rules were applied) and ``reports/collections_assignment`` partition D (the files of that plan). The UI
shows a day without an assignment as a missing partition; a backfill of missing days runs them one at a
time, oldest first (pool and singleton tag), and a day older than the latest applied one is refused
(``assignment.refuse_going_back``). ``end_offset=1``: today's partition exists from midnight in Bogotá, so
the 07:00 schedule can run it.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from cartera_pipelines.lib.dates import BOGOTA, parse_date

FIRST_DAY = "2026-11-01"
"""The first day the assignment ran under Dagster."""

collections_days = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone=BOGOTA.key, end_offset=1)


def day_of(partition_key: str) -> dt.date:
    """The run date a partition key names (``YYYY-MM-DD``)."""
    return parse_date(partition_key, "partition")
