"""One resource's sync: plan → pages from the API → parse → upsert page by page → deletions → state.

Used by the assets (one call per asset) and by the benchmark (several resources on threads). Each
page is validated completely before anything is written and committed in its own transaction, so a
failure leaves every earlier page committed and nothing of the failing page. The cursor in
``contifico_sync_state`` moves only after the last page (and the deletion marks) committed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from cartera_pipelines.defs.contifico.catalog import ContificoResource
from cartera_pipelines.defs.contifico.parsing import PayloadError, parse_page
from cartera_pipelines.defs.contifico.plan import DEFAULT_OVERLAP, SyncPlan, plan_sync
from cartera_pipelines.defs.contifico.sql import (
    active_ids_missing,
    count_active,
    load_state,
    mark_deleted,
    save_state,
    upsert_page,
)
from cartera_pipelines.defs.contifico.tables import CHILD_TABLES, RESOURCE_TABLES, sync_state
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.contifico import ContificoApi, ContificoPayloadError
from cartera_pipelines.resources.database import SqlDatabase

PROGRESS_SECONDS = 5.0


class MassDeletionError(RuntimeError):
    """A full scan would mark more rows deleted than the configured fraction allows."""


@dataclass(frozen=True)
class SyncOptions:
    since: dt.date | None = None
    full_refresh: bool = False
    page_size: int | None = None
    overlap: dt.timedelta = DEFAULT_OVERLAP
    max_deleted_fraction: float = 0.5
    """A full scan that would mark more than this share of live rows deleted fails instead
    (an API answering an empty list by mistake must not wipe the warehouse)."""


@dataclass
class SyncStats:
    resource: str
    mode: str = ""
    reason: str = ""
    since: str | None = None
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    pages: int = 0
    retries: int = 0
    seconds: float = 0.0
    api_count: int | None = None

    @property
    def written(self) -> int:
        return self.new + self.changed

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def counts(self) -> dict[str, int | float]:
        """What a sync did, as stored in the sync state and shown in the asset's metadata."""
        return {
            "fetched": self.fetched,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "pages": self.pages,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
        }


def ensure_tables(db: SqlDatabase) -> None:
    """Bring the warehouse to the code's schema (``lib.schema``; safe when several assets start at once)."""
    ensure_schema(db)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sync_resource(
    api: ContificoApi,
    db: SqlDatabase,
    resource: ContificoResource,
    options: SyncOptions = SyncOptions(),
    log: Callable[[str], None] = lambda _m: None,
) -> SyncStats:
    """Sync one resource into the warehouse; raises on any failure after recording it in the state."""
    table = RESOURCE_TABLES[resource.name]
    children = {child.name: CHILD_TABLES[child.name] for child in resource.children}
    started_at = _utcnow()
    clock = time.perf_counter()
    with db.connect() as conn:
        state = load_state(conn, sync_state, resource.name)
    plan: SyncPlan = plan_sync(
        resource,
        cursor_at=state["cursor_at"] if state else None,
        since=options.since,
        full_refresh=options.full_refresh,
        overlap=options.overlap,
    )
    stats = SyncStats(resource.name, plan.mode, plan.reason, plan.params.get("fecha_modificacion"))
    log(f"{resource.name}: {plan.mode} sync of {resource.display_endpoint} ({plan.reason})")
    seen: set[str] | None = set() if plan.full_scan else None
    last_report = time.perf_counter()
    try:
        for page in api.iter_pages(
            resource.path, resource.version, params=plan.params, page_size=options.page_size
        ):
            stats.pages += 1
            stats.retries += page.retries
            if page.retries:
                log(f"{resource.name}: page {page.number} needed {page.retries} retries (429/5xx/timeouts)")
            if page.count is not None:
                stats.api_count = page.count
            try:
                parsed = parse_page(resource, page.records)
            except PayloadError as error:
                raise ContificoPayloadError(
                    str(error), url=page.url, page=page.number, body=_record_snippet(page.records)
                ) from None
            now = _utcnow()
            with db.begin() as conn:
                written = upsert_page(conn, table, parsed, now, children)
            stats.fetched += len(parsed)
            stats.new += written.new
            stats.changed += written.changed
            stats.unchanged += written.unchanged
            if seen is not None:
                seen.update(item.row["id"] for item in parsed)
            if time.perf_counter() - last_report >= PROGRESS_SECONDS:
                last_report = time.perf_counter()
                log(_progress(stats, time.perf_counter() - clock))
        if seen is not None:
            with db.begin() as conn:
                vanished = active_ids_missing(conn, table, seen)
                live = count_active(conn, table)
                if vanished and len(vanished) > options.max_deleted_fraction * live:
                    raise MassDeletionError(
                        f"{resource.name}: the full scan returned {stats.fetched:,} records and would mark "
                        f"{len(vanished):,} of {live:,} stored rows deleted (more than "
                        f"{options.max_deleted_fraction:.0%}); refusing. Check the API, then rerun with a "
                        "higher max_deleted_fraction if the deletions are real."
                    )
                stats.deleted = mark_deleted(conn, table, vanished, _utcnow())
        stats.seconds = time.perf_counter() - clock
        with db.begin() as conn:
            save_state(
                conn, sync_state, _state_values(resource, plan, stats, started_at, state, success=True)
            )
    except BaseException as error:
        stats.seconds = time.perf_counter() - clock
        message = f"{type(error).__name__}: {error}"[:1000]
        try:
            with db.begin() as conn:
                values = _state_values(resource, plan, stats, started_at, state, success=False)
                save_state(conn, sync_state, values | {"last_error": message})
        except sa.exc.SQLAlchemyError:
            pass  # the original error matters more than the bookkeeping
        raise
    log(_progress(stats, stats.seconds, done=True))
    return stats


def _record_snippet(records: list[object]) -> str:
    import json

    from cartera_pipelines.defs.contifico.parsing import snippet

    return snippet(json.dumps(records, ensure_ascii=False, default=str))


def _progress(stats: SyncStats, seconds: float, done: bool = False) -> str:
    rate = stats.fetched / seconds if seconds > 0 else 0.0
    total = f"/{stats.api_count:,}" if stats.api_count is not None else ""
    eta = ""
    if not done and stats.api_count and rate > 0 and stats.api_count > stats.fetched:
        eta = f", ETA {(stats.api_count - stats.fetched) / rate:.0f}s"
    head = "done" if done else "progress"
    return (
        f"{stats.resource} {head}: {stats.pages} pages, {stats.fetched:,}{total} records "
        f"({rate:,.0f}/s{eta}); new {stats.new:,}, changed {stats.changed:,}, unchanged {stats.unchanged:,}, "
        f"deleted {stats.deleted:,}, retries {stats.retries}"
    )


def _state_values(
    resource: ContificoResource,
    plan: SyncPlan,
    stats: SyncStats,
    started_at: dt.datetime,
    previous: dict[str, object] | None,
    *,
    success: bool,
) -> dict[str, object]:
    previous = previous or {}
    return {
        "resource": resource.name,
        "endpoint": resource.display_endpoint,
        "mode": plan.mode,
        # The cursor is where this sync *started*: anything modified after that is read next time.
        "cursor_at": started_at if success else previous.get("cursor_at"),
        "last_full_scan_at": started_at if success and plan.full_scan else previous.get("last_full_scan_at"),
        "last_started_at": started_at,
        "last_finished_at": _utcnow(),
        "last_status": "success" if success else "failed",
        "last_error": None,
        **stats.counts(),
    }
