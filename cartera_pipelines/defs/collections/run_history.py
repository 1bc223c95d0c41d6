"""What earlier assignment runs recorded in Dagster's own history (the materializations' metadata).

Dagster's event log is the run history of the assignment: each applied run records its day (``as_of``).
The operations store is not ours (no DDL there), so this is where a run's own facts live; they are
visible on the asset's page in the UI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

PAGE = 100


@dataclass(frozen=True)
class AppliedRun:
    """The latest run that changed the store (not a dry run)."""

    as_of: dt.date


def latest_applied(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> AppliedRun | None:
    """The newest materialization of ``asset_key`` that was not a dry run, in the order runs recorded them
    (not by partition), or ``None`` when the assignment never ran on this instance."""
    cursor = None
    while True:
        page = instance.fetch_materializations(asset_key, limit=PAGE, cursor=cursor)
        for record in page.records:
            materialization = record.asset_materialization
            metadata = materialization.metadata if materialization else {}
            dry = metadata.get("dry_run")
            if (dry is not None and dry.value) or "as_of" not in metadata:
                continue
            return AppliedRun(as_of=dt.date.fromisoformat(str(metadata["as_of"].value)))
        if not page.has_more:
            return None
        cursor = page.cursor
