"""Declarative automation: one automation-condition sensor per family, running from the start.

Assets that simply follow their parents carry an ``AutomationCondition``; Dagster evaluates conditions
only in an automation-condition sensor, and the one it would create by itself starts stopped. Each family
declares its own in ``automation.py`` (``forecasting_automation_sensor = automation_sensor("forecasting")``),
so a family's automation can be paused in the UI without pausing the others.
"""

from __future__ import annotations

import dagster as dg


def automation_sensor(
    family: str, minimum_interval_seconds: int = 30
) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates the automation conditions of the assets in the group ``family``."""
    return dg.AutomationConditionSensorDefinition(
        name=f"{family}_automation_sensor",
        target=dg.AssetSelection.groups(family),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=minimum_interval_seconds,
        description=f"Evaluates the automation conditions of the {family} assets (they follow their parents).",
    )
