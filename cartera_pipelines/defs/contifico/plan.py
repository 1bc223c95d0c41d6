"""Pure planning of one resource's sync: full scan or incremental, and from which day.

Contifico filters changes with the entry's ``change_filter`` (``fecha_modificacion__gte``, documents
``fecha_emision__gte``) given an ISO datetime in Ecuador's local time, so the cursor is the instant the
last successful sync *started* and the next one asks from ``cursor - overlap`` in local time. A record changed while a sync ran
is therefore read again by the next one; re-reading an unchanged record costs a request, never a
write (its content hash is equal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from cartera_pipelines.defs.contifico.catalog import CatalogEntry

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


def contifico_datetime(moment: dt.datetime) -> str:
    """An ISO datetime without offset, as the change filters take it (Contifico's local time)."""
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


def plan_sync(
    resource: CatalogEntry,
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
            params | {resource.change_filter: contifico_datetime(dt.datetime.combine(since, dt.time()))},
            f"since {since.isoformat()} (run config)",
        )
    if cursor_at is None:
        return SyncPlan(True, params, "first sync: no cursor yet")
    if cursor_at.tzinfo is None:
        cursor_at = cursor_at.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
    local = (cursor_at - overlap).astimezone(CONTIFICO_TZ)
    return SyncPlan(
        False,
        params | {resource.change_filter: contifico_datetime(local)},
        f"cursor {cursor_at.isoformat()} minus {overlap}",
    )


def deletion_skip_reason(ids_seen: int, api_counts: list[int]) -> str | None:
    """Why a full scan's deletion marks cannot be trusted, or None when they can.

    Offset paging while records are deleted shifts records between pages, so a scan can miss live
    records. A v2 list says how many records it holds (``count``): deletions are marked only when
    every page said the same count and the distinct ids seen match it. v1 lists carry no count
    (their deletions are guarded by the mass-deletion limit only).
    """
    if not api_counts:
        return None
    if len(set(api_counts)) > 1:
        return f"the API's count changed during the scan ({api_counts[0]:,} → {api_counts[-1]:,})"
    if ids_seen != api_counts[-1]:
        return f"ids seen ({ids_seen:,}) differ from the API's count ({api_counts[-1]:,})"
    return None
