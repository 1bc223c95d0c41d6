"""What earlier assignment runs recorded in Dagster's own history (the materializations' metadata).

Dagster's event log is the run history of the assignment: each applied run records its day (``as_of``)
and the tie turn the next run starts from (``next_turn``, e.g. ``81, 45``). The operations store is not
ours (we issue no DDL there, so it has no column for the turn), while Dagster's record is per run by
nature, written in the same step that commits the assignment, and visible on the asset's page in the UI.
The one gap: a run that commits and dies before its materialization is recorded hands on the turn it
received (the next tie goes to the same house once more).
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
    next_turn: tuple[int, ...] | None
    """The tie turn it handed on (``None`` when it recorded none)."""


def _turn(text: object) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        return None


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
            turn = metadata.get("next_turn")
            return AppliedRun(
                as_of=dt.date.fromisoformat(str(metadata["as_of"].value)),
                next_turn=_turn(turn.value) if turn is not None else None,
            )
        if not page.has_more:
            return None
        cursor = page.cursor
