"""One resource's sync: plan → pages from the API → parse → upsert page by page → deletions → state.

Used by the assets (one call per asset) and by the benchmark (several resources on threads). Each
page is parsed completely before anything is written and committed in its own transaction (rows,
child lines, rejects, drift), so a failure leaves every earlier page committed and nothing of the
failing page. A record that cannot be typed goes to ``contifico_rejects`` and the rest of its page is
written. The cursor in ``contifico_sync_state`` moves only after the last page (and the deletion
marks) committed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.contifico.catalog import CatalogEntry
from cartera_pipelines.defs.contifico.parsing import ParsedPage, Reject, parse_page
from cartera_pipelines.defs.contifico.plan import DEFAULT_OVERLAP, SyncPlan, deletion_skip_reason, plan_sync
from cartera_pipelines.defs.contifico.sql import (
    active_ids_missing,
    clear_rejects,
    count_active,
    load_state,
    mark_deleted,
    open_reject_ids,
    record_drift,
    save_rejects,
    save_state,
    upsert_page,
)
from cartera_pipelines.defs.contifico.tables import (
    CHILD_TABLES,
    RESOURCE_TABLES,
    rejects,
    schema_drift,
    sync_state,
)
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.contifico import (
    ContificoApi,
    ContificoPayloadError,
    Page,
    PayloadError,
    snippet,
)
from cartera_pipelines.resources.database import SqlDatabase


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
    lines: int = 0
    without_modified: int = 0
    rejected: int = 0
    drift: dict[str, Any] = field(default_factory=dict)
    deletions_skipped: int = 0
    deletions_skipped_reason: str | None = None
    api_counts: list[int] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.new + self.changed

    @property
    def api_count(self) -> int | None:
        return self.api_counts[-1] if self.api_counts else None

    def counts(self) -> dict[str, Any]:
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
            "without_modified": self.without_modified,
            "rejected": self.rejected,
            "drift_fields": len(self.drift),
            "deletions_skipped": self.deletions_skipped,
            "deletions_skipped_reason": self.deletions_skipped_reason,
        }


def ensure_tables(db: SqlDatabase) -> None:
    """Bring the warehouse to the code's schema (``lib.schema``; safe when several assets start at once)."""
    ensure_schema(db)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def reject_line(resource: str, page: Page, reject: Reject) -> str:
    """One clear log line per bad record: what, where, which id."""
    value = snippet(json.dumps(reject.value, ensure_ascii=False, default=str), 120)
    return (
        f"{resource}: record {reject.id} rejected (page {page.number}, GET {page.url}): "
        f"field {reject.field or '?'} = {value}: {reject.reason}"
    )


class _Run:
    """The state of one resource's sync while its pages are written."""

    def __init__(self, db: SqlDatabase, resource: CatalogEntry, stats: SyncStats, log: Callable[[str], None]):
        self.db, self.resource, self.stats, self.log = db, resource, stats, log
        self.table = RESOURCE_TABLES[resource.name]
        self.children = {child.name: CHILD_TABLES[child.name] for child in resource.children}
        with db.connect() as conn:
            self.open_rejects = open_reject_ids(conn, rejects, resource.name)
        self.seen: set[str] = set()

    def parse(self, page: Page) -> ParsedPage:
        try:
            parsed = parse_page(self.resource, page.records)
        except PayloadError as error:
            body = snippet(json.dumps(page.records, ensure_ascii=False, default=str))
            raise ContificoPayloadError(str(error), url=page.url, page=page.number, body=body) from None
        for reject in parsed.rejects:
            self.log(reject_line(self.resource.name, page, reject))
        return parsed

    def write(self, page: Page, parsed: ParsedPage) -> None:
        """One page in one transaction: rows and their lines, rejects in and out, new drift fields."""
        stats, name = self.stats, self.resource.name
        new_drift = {k: v for k, v in parsed.unknown_fields.items() if k not in stats.drift}
        cleared = self.open_rejects.intersection(item.row["id"] for item in parsed.records)
        now = _utcnow()
        with self.db.begin() as conn:
            written = upsert_page(conn, self.table, parsed.records, now, self.children)
            if parsed.rejects:
                save_rejects(conn, rejects, name, parsed.rejects, now)
            if cleared:
                clear_rejects(conn, rejects, name, cleared)
            if new_drift:
                record_drift(conn, schema_drift, name, new_drift, now)
        self.open_rejects -= cleared
        for field_name, example in new_drift.items():
            self.log(f"{name}: new field {field_name!r} not in the catalog (example {example!r:.80})")
        stats.drift.update(new_drift)
        stats.pages += 1
        stats.retries += page.retries
        if page.count is not None:
            stats.api_counts.append(page.count)
        stats.fetched += len(parsed.records) + len(parsed.rejects)
        stats.new += written.new
        stats.changed += written.changed
        stats.unchanged += written.unchanged
        stats.lines += written.lines
        stats.rejected += len(parsed.rejects)
        stats.without_modified += parsed.without_modified
        self.seen.update(parsed.ids)

    def mark_deletions(self, started_at: dt.datetime, max_fraction: float) -> None:
        """After a full scan: live rows it did not see are marked deleted, unless the scan cannot be
        trusted (ids seen differ from the API's count) or the marks would be a mass deletion."""
        stats, table = self.stats, self.table
        skip = deletion_skip_reason(len(self.seen), stats.api_counts)
        with self.db.begin() as conn:
            vanished = active_ids_missing(conn, table, self.seen, started_at)
            if vanished and skip:
                stats.deletions_skipped, stats.deletions_skipped_reason = len(vanished), skip
                self.log(f"{self.resource.name}: {len(vanished):,} rows not seen, not marked deleted: {skip}")
                return
            live = count_active(conn, table)
            if vanished and len(vanished) > max_fraction * live:
                raise MassDeletionError(
                    f"{self.resource.name}: the full scan returned {stats.fetched:,} records and would mark "
                    f"{len(vanished):,} of {live:,} stored rows deleted (more than {max_fraction:.0%}); "
                    "refusing. Check the API, then rerun with a higher max_deleted_fraction if the "
                    "deletions are real."
                )
            stats.deleted = mark_deleted(conn, table, vanished, _utcnow())


def sync_resource(
    api: ContificoApi,
    db: SqlDatabase,
    resource: CatalogEntry,
    options: SyncOptions = SyncOptions(),
    log: Callable[[str], None] = lambda _m: None,
) -> SyncStats:
    """Sync one resource into the warehouse; raises on any failure after recording it in the state."""
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
    stats = SyncStats(resource.name, plan.mode, plan.reason, plan.params.get(resource.change_filter))
    log(f"{resource.name}: {plan.mode} sync of {resource.display_endpoint} ({plan.reason})")
    run = _Run(db, resource, stats, log)
    progress = Progress(log, resource.name, unit="records")
    try:
        pages = api.iter_pages(
            resource.path,
            resource.version,
            params=plan.params,
            page_size=resource.page_size(options.page_size or api.page_size),
            paging=resource.page_style,
        )
        with closing(pages):  # a failure closes the pages at once: the prefetch stops retrying
            for page in pages:
                run.write(page, run.parse(page))
                progress.total = stats.api_count
                progress.update(stats.fetched, new=stats.new, changed=stats.changed, retries=stats.retries)
        if plan.full_scan:
            run.mark_deletions(started_at, options.max_deleted_fraction)
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
    progress.finish(
        pages=stats.pages,
        new=stats.new,
        changed=stats.changed,
        unchanged=stats.unchanged,
        deleted=stats.deleted,
        rejected=stats.rejected,
        retries=stats.retries,
    )
    return stats


def _state_values(
    resource: CatalogEntry,
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
