"""Ecuador's calendar days: the partitions of the inventory analytics snapshots.

A partition key is a date in Guayaquil (``2026-03-09``), the ``as_of`` of every measure; today's date is
already a partition (``end_offset=1``) so the day's snapshot follows the hourly sync.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from cartera_pipelines.lib.dates import GUAYAQUIL, parse_date

FIRST_DAY = "2024-01-01"
"""The first day of synced Contifico history a snapshot can be asked for."""

ecuador_days = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone=GUAYAQUIL.key, end_offset=1)


def day_of(partition_key: str) -> dt.date:
    """The Ecuador date a partition key names."""
    return parse_date(partition_key, "partition key")
