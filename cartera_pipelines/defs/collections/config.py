"""Run configuration of the assignment (the defaults are the business's: houses 45 and 81, 50/50, 61 days).

The run date is not configuration: it is the partition key (a day in Bogotá, see ``partitions.py``).
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cartera_pipelines.defs.collections.assignment import AssignmentRules, AssignmentRulesError, House

SINGLETON_TAG = {"singleton": "collections_assignment"}
POOL = "collections_assignment"


class HousesConfig(dg.Config):
    """Which users are collection houses and how the portfolio is shared between them."""

    house_user_ids: list[int] = Field(default=[45, 81], description="User ids of the collection houses")
    house_weights: list[int] = Field(
        default=[1, 1], description="Share of each house, in the same order (1/1 = 50/50, 60/40, 1/1/1 …)"
    )
    threshold_days: int = Field(
        default=61, description="Contracts at or above this many days overdue are assigned"
    )
    fixed_effect: str = Field(
        default="pago_total", description="Management effect that fixes a contract to a house"
    )

    def rules(self) -> AssignmentRules:
        if len(self.house_user_ids) != len(self.house_weights):
            raise AssignmentRulesError(
                f"house_user_ids ({len(self.house_user_ids)}) and house_weights ({len(self.house_weights)}) "
                "must have the same length"
            )
        return AssignmentRules(
            houses=tuple(House(u, w) for u, w in zip(self.house_user_ids, self.house_weights, strict=True)),
            threshold_days=self.threshold_days,
            fixed_effect=self.fixed_effect,
        )


class AssignmentConfig(HousesConfig):
    """Run config of ``operations/contract_advisors`` (and its reports); the day is the partition."""

    dry_run: bool = Field(
        default=False, description="Compute and write the reports, change nothing in the store"
    )
