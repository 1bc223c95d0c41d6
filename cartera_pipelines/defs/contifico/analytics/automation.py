"""Automation of the contifico inventory analytics: today's (Ecuador's) snapshot follows the sync.

Each analytics asset carries :data:`after_sync_latest_day`; the contifico sync assets are not
partitioned, so "their parents updated" means a sync (or an upstream analytics asset) committed.
Dagster evaluates the conditions in the family's ``contifico_automation_sensor`` (``defs/contifico/
automation.py``, ``lib.automation``: it targets the group, so these assets too).
"""

from __future__ import annotations

import dagster as dg

from cartera_pipelines.defs.contifico.analytics.tables import ANALYTICS_TABLES

ANALYTICS_SELECTION = dg.AssetSelection.assets(*(["warehouse", table.name] for table in ANALYTICS_TABLES))
"""The analytics assets. They share the group ``contifico`` with the sync, so a job over the whole group
would take them in: ``contifico_sync_job`` is not partitioned and they are (it selects its keys)."""

after_sync_latest_day = (
    dg.AutomationCondition.in_latest_time_window()
    & dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("latest Ecuador day, after the sync updates")
