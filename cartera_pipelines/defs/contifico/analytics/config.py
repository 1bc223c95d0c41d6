"""Run config of the contifico inventory analytics.

The as-of date of every analytics asset is its partition key (Ecuador's date); backfilling a range of
partitions is how to compute past days. These classes carry the rest.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cartera_pipelines.defs.contifico.analytics.reorder import Policy


class LeadTimeConfig(dg.Config):
    """How purchases are matched to their inventory entries."""

    horizon_days: int = Field(
        default=60,
        ge=0,
        description="An entry more than this many days after the purchase is not its delivery.",
    )
    window_days: int = Field(default=365, ge=1, description="Purchases of the last this many days count.")


class ReorderConfig(dg.Config):
    """The reorder policy: service level, target coverage, lead time when none was measured."""

    service_level: float = Field(
        default=0.95, gt=0.5, lt=1, description="Probability of not running out during a lead time."
    )
    target_coverage_days: int = Field(
        default=30,
        ge=1,
        description="An order should leave this many days of sales in stock when it arrives.",
    )
    default_lead_time_days: int = Field(
        default=7, ge=0, description="Lead time of products without a measured delivery."
    )
    top_at_risk: int = Field(default=15, ge=1, description="Items in the plot of top items at risk.")

    def policy(self) -> Policy:
        return Policy(self.service_level, self.target_coverage_days, self.default_lead_time_days)
