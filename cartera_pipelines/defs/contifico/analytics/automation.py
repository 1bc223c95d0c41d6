"""Automation of the contifico inventory analytics: today's (Ecuador's) snapshot follows the sync.

Each analytics asset carries :data:`after_sync_latest_day`; the contifico sync assets are not
partitioned, so "their parents updated" means a sync (or an upstream analytics asset) committed.
Dagster evaluates the conditions in ``contifico_automation_sensor`` (``lib.automation``).
"""

from __future__ import annotations

import dagster as dg

from cartera_pipelines.defs.contifico.analytics.tables import ANALYTICS_TABLES
from cartera_pipelines.lib.automation import automation_sensor

ANALYTICS_SELECTION = dg.AssetSelection.assets(*(["warehouse", table.name] for table in ANALYTICS_TABLES))
"""The analytics assets. They share the group ``contifico`` with the sync, so a job over the group must
leave them out: ``contifico_sync_job`` is not partitioned and they are (``groups("contifico") -
ANALYTICS_SELECTION``)."""

after_sync_latest_day = (
    dg.AutomationCondition.in_latest_time_window()
    & dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("latest Ecuador day, after the sync updates")

# The analytics are the only contifico assets with an automation condition; the sync keeps its schedules.
contifico_automation_sensor = automation_sensor("contifico")
