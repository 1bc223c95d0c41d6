"""Run config of the contifico family."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from pydantic import Field

from cartera_pipelines.defs.contifico.sync import SyncOptions


class ContificoSyncConfig(dg.Config):
    """Run config of a Contifico sync (the defaults are the hourly incremental)."""

    since: str | None = Field(
        default=None,
        description="Read records modified on or after this day (YYYY-MM-DD) instead of the cursor.",
    )
    full_refresh: bool = Field(
        default=False, description="Read everything and mark records no longer returned as deleted."
    )
    page_size: int | None = Field(
        default=None, description="Records per page (default: CONTIFICO_PAGE_SIZE; capped per endpoint)."
    )
    overlap_minutes: int = Field(
        default=120, description="Overlap behind the cursor, so nothing changed mid-sync is missed."
    )
    max_deleted_fraction: float = Field(
        default=0.5,
        description="A full scan marking more than this share of live rows deleted fails instead.",
    )

    def options(self) -> SyncOptions:
        since = None
        if self.since:
            try:
                since = dt.date.fromisoformat(self.since.strip())
            except ValueError:
                raise dg.Failure(
                    description=f"run config since={self.since!r} is not a YYYY-MM-DD date"
                ) from None
        return SyncOptions(
            since=since,
            full_refresh=self.full_refresh,
            page_size=self.page_size,
            overlap=dt.timedelta(minutes=self.overlap_minutes),
            max_deleted_fraction=self.max_deleted_fraction,
        )
