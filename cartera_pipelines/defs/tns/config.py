"""Run config of the tns family."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class ExtractConfig(dg.Config):
    """Run config of ``warehouse/tns_inventory_movements`` (the defaults are what the sensor and the
    nightly schedule run)."""

    fetch_size: int = Field(default=5000, description="Rows per fetch from TNS (and per COPY piece).")
    queue_chunks: int = Field(
        default=4,
        description="Fetched chunks that may wait for the writer (memory: fetch_size × queue_chunks rows).",
    )
    slot_timeout_seconds: int = Field(
        default=3600, description="How long to wait for a free slot of the server's pool before failing."
    )
