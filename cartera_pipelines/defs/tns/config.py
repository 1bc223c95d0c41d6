"""Run config of the tns family."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cartera_pipelines.defs.tns.extract import DEFAULT_TIMEOUT
from cartera_pipelines.defs.tns.movements import ExtractPlan
from cartera_pipelines.lib.dates import DateInputError, parse_date


class ExtractConfig(dg.Config):
    """Run config of ``warehouse/tns_inventory_movements`` (the defaults are what the sensor and the
    schedules run: the whole partition, from where the last discovery placed it)."""

    date_from: str | None = Field(
        default=None,
        description="Re-extract only documents dated on or after this day (YYYY-MM-DD); the rest of the "
        "partition's slice stays.",
    )
    date_to: str | None = Field(
        default=None, description="Re-extract only documents dated on or before this day (YYYY-MM-DD)."
    )
    force: bool = Field(
        default=False,
        description="Forced re-extraction: read the company-year where the servers' EMPRESAS place it now, "
        "even if the last discovery placed it elsewhere (without it, a moved company-year fails the run "
        "until discovery has run).",
    )
    allow_empty: bool = Field(
        default=False,
        description="Accept a source that answers no lines for a slice holding lines (else the run "
        "fails and the slice stays).",
    )
    fetch_size: int = Field(default=5000, description="Rows per fetch from TNS (and per COPY piece).")
    queue_chunks: int = Field(
        default=4,
        description="Fetched chunks that may wait for the writer (memory: fetch_size × queue_chunks rows).",
    )
    read_timeout_seconds: float = Field(
        default=DEFAULT_TIMEOUT,
        description="The whole read must finish within this time, else it is stopped.",
    )
    slot_timeout_seconds: int = Field(
        default=3600, description="How long to wait for a free slot of the server's pool before failing."
    )

    def plan(self) -> ExtractPlan:
        """What this run extracts; a bad date raises :class:`DateInputError` naming the field."""
        date_from = parse_date(self.date_from, "date_from") if self.date_from else None
        date_to = parse_date(self.date_to, "date_to") if self.date_to else None
        try:
            return ExtractPlan(date_from=date_from, date_to=date_to, allow_empty=self.allow_empty)
        except ValueError as error:
            raise DateInputError(str(error)) from None
