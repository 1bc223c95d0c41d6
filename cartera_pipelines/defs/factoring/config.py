"""Run config of the factoring assets (the exposure snapshot takes its Chile date from its partition)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class OverdueConfig(dg.Config):
    """``operations/facturas_vencidas``: the Chile date the batch runs for."""

    as_of: str = Field(default="", description="Chile date YYYY-MM-DD; empty = today in America/Santiago")


class OutboxConfig(dg.Config):
    """``operations/outbox_deliveries``: how much to deliver and how often to commit."""

    commit_every: int = Field(default=50, description="Commit delivery marks every N results")
    page_size: int = Field(default=500, description="Events read per query")
    limit: int = Field(default=0, description="Deliver at most N events this run (0 = all pending)")
    respect_backoff: bool = Field(
        default=True, description="Skip events whose next_attempt_at is in the future"
    )
