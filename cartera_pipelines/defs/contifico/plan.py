"""Pure planning of one resource's sync: full scan or incremental, and from which day.

Contifico filters by modification *day* (``fecha_modificacion=dd/mm/yyyy``, records modified on or
after it) in Ecuador's local time, so the cursor is the instant the last successful sync *started*
and the next one asks from the local day of ``cursor - overlap``. A record changed while a sync ran
is therefore read again by the next one; re-reading an unchanged record costs a request, never a
write (its content hash is equal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from cartera_pipelines.defs.contifico.catalog import ContificoResource

CONTIFICO_TZ = ZoneInfo("America/Guayaquil")
DEFAULT_OVERLAP = dt.timedelta(hours=2)


@dataclass(frozen=True)
class SyncPlan:
    full_scan: bool
    params: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def mode(self) -> str:
        return "full" if self.full_scan else "incremental"


def contifico_date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def plan_sync(
    resource: ContificoResource,
    *,
    cursor_at: dt.datetime | None,
    since: dt.date | None = None,
    full_refresh: bool = False,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
) -> SyncPlan:
    """What to ask for: every record (full scan, detects deletions) or those modified since a day."""
    params = dict(resource.params)
    if not resource.incremental:
        return SyncPlan(True, params, "the endpoint cannot filter by modification date")
    if full_refresh:
        return SyncPlan(True, params, "full_refresh requested")
    if since is not None:
        return SyncPlan(
            False,
            params | {"fecha_modificacion": contifico_date(since)},
            f"since {since.isoformat()} (run config)",
        )
    if cursor_at is None:
        return SyncPlan(True, params, "first sync: no cursor yet")
    if cursor_at.tzinfo is None:
        cursor_at = cursor_at.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
    day = (cursor_at - overlap).astimezone(CONTIFICO_TZ).date()
    return SyncPlan(
        False,
        params | {"fecha_modificacion": contifico_date(day)},
        f"cursor {cursor_at.isoformat()} minus {overlap}",
    )
