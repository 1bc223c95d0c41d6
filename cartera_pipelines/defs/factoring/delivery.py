"""The outbox delivery loop: pending events → signed webhooks → ``delivered_at``, at least once.

Not pure (it reads and writes the outbox and calls the sender) but free of Dagster, so the asset stays
thin and the benchmark drives the same code. How nothing is lost:

- events are read in pages by ascending id (keyset, short read transactions), never all at once;
- up to ``sender.concurrency`` events are in flight on a thread pool; each result is buffered and the
  buffer is committed every ``commit_every`` results (or half a second): ``delivered_at`` right after
  the 2xx, ``attempts``/``last_error``/``next_attempt_at`` after a failure, ``parked_at`` once an
  event has used ``sender.max_attempts`` requests;
- if the process dies, the events delivered but not yet committed (at most the buffer plus those in
  flight) are sent again by the next run — receivers drop them by ``Idempotency-Key``. An interrupted
  run (Dagster termination, an exception) still commits what it already delivered.
"""

from __future__ import annotations

import datetime as dt
import queue
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.factoring.tables import outbox_events as ob
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import DeliveryOutcome, WebhookSender, event_body

MAX_BACKOFF_BETWEEN_RUNS = dt.timedelta(hours=1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite keeps naive UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def pending_condition(now: dt.datetime, respect_backoff: bool = True) -> sa.ColumnElement[bool]:
    """Undelivered, not parked and (unless told otherwise) past its backoff."""
    cond = sa.and_(ob.c.delivered_at.is_(None), ob.c.parked_at.is_(None))
    if respect_backoff:
        cond = sa.and_(cond, sa.or_(ob.c.next_attempt_at.is_(None), ob.c.next_attempt_at <= now))
    return cond


def backoff_between_runs(total_attempts: int, per_attempt: int) -> dt.timedelta:
    """1, 2, 4 … minutes after each failed attempt, at most an hour."""
    failed_attempts = max(1, total_attempts // max(1, per_attempt))
    return min(dt.timedelta(minutes=2 ** (failed_attempts - 1)), MAX_BACKOFF_BETWEEN_RUNS)


@dataclass
class DeliveryStats:
    considered: int = 0
    delivered: int = 0
    retried: int = 0
    """Events that needed more than one request in this run."""
    failed: int = 0
    parked: int = 0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    """Seconds from the event's creation to its delivery."""
    last_errors: dict[str, str] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    def percentiles(self, values: list[float], scale: float = 1.0) -> dict[str, float]:
        if not values:
            return {}
        if len(values) == 1:
            return {"p50": values[0] * scale, "p95": values[0] * scale, "p99": values[0] * scale}
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return {"p50": cuts[49] * scale, "p95": cuts[94] * scale, "p99": cuts[98] * scale}


_mark_delivered = (
    sa.update(ob)
    .where(ob.c.id == sa.bindparam("b_id"))
    .values(
        delivered_at=sa.bindparam("b_at"),
        attempts=ob.c.attempts + sa.bindparam("b_n"),
        last_error=None,
        next_attempt_at=None,
    )
)


def _mark_delivered_from_values(marks: list[dict[str, Any]]) -> sa.Update:
    v = sa.values(
        sa.column("b_id", sa.BigInteger),
        sa.column("b_at", sa.DateTime(timezone=True)),
        sa.column("b_n", sa.Integer),
        name="marks",
    ).data([(m["b_id"], m["b_at"], m["b_n"]) for m in marks])
    return (
        sa.update(ob)
        .where(ob.c.id == v.c.b_id)
        .values(
            delivered_at=v.c.b_at, attempts=ob.c.attempts + v.c.b_n, last_error=None, next_attempt_at=None
        )
    )


def _mark_failed(max_attempts: int) -> sa.Update:
    total = ob.c.attempts + sa.bindparam("b_n")
    return (
        sa.update(ob)
        .where(ob.c.id == sa.bindparam("b_id"))
        .values(
            attempts=total,
            last_error=sa.bindparam("b_error"),
            next_attempt_at=sa.bindparam("b_next"),
            parked_at=sa.case((total >= max_attempts, sa.bindparam("b_at")), else_=None),
        )
    )


def _pages(
    db: SqlDatabase, now: dt.datetime, respect_backoff: bool, page_size: int, limit: int
) -> Iterator[Any]:
    last_id, yielded = 0, 0
    columns = (ob.c.id, ob.c.event_id, ob.c.type, ob.c.payload, ob.c.created_at, ob.c.attempts)
    while True:
        size = page_size if not limit else min(page_size, limit - yielded)
        if size <= 0:
            return
        query = (
            sa.select(*columns)
            .where(pending_condition(now, respect_backoff), ob.c.id > last_id)
            .order_by(ob.c.id)
            .limit(size)
        )
        with db.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        yield from rows
        yielded += len(rows)
        last_id = rows[-1].id


def deliver_pending(
    db: SqlDatabase,
    sender: WebhookSender,
    *,
    commit_every: int = 50,
    page_size: int = 500,
    limit: int = 0,
    respect_backoff: bool = True,
    log: Callable[[str], None] = lambda _m: None,
    on_commit: Callable[[DeliveryStats], None] | None = None,
) -> DeliveryStats:
    """Deliver every pending event once (each with in-place retries); returns what happened."""
    stats = DeliveryStats()
    started = time.perf_counter()
    now = utcnow()
    buffer: list[tuple[Any, DeliveryOutcome, dt.datetime]] = []
    mark_failed = _mark_failed(sender.max_attempts)
    last_flush = time.perf_counter()
    last_log = time.perf_counter()

    def flush() -> None:
        nonlocal last_flush
        last_flush = time.perf_counter()
        if not buffer:
            return
        delivered, failed = [], []
        for row, outcome, finished in buffer:
            if outcome.delivered:
                delivered.append({"b_id": row.id, "b_at": finished, "b_n": outcome.attempts})
            else:
                total = row.attempts + outcome.attempts
                failed.append(
                    {
                        "b_id": row.id,
                        "b_at": finished,
                        "b_n": outcome.attempts,
                        "b_error": (outcome.error or "unknown error")[:2000],
                        "b_next": finished + backoff_between_runs(total, sender.retries_per_attempt),
                    }
                )
                if total >= sender.max_attempts:
                    stats.parked += 1
        with db.begin() as conn:
            if delivered and conn.dialect.name == "postgresql":
                # One UPDATE … FROM (VALUES …) per batch instead of one statement per event.
                conn.execute(_mark_delivered_from_values(delivered))
            elif delivered:
                conn.execute(_mark_delivered, delivered)
            if failed:
                conn.execute(mark_failed, failed)
        buffer.clear()
        if on_commit is not None:
            on_commit(stats)

    def record(row: Any, outcome: DeliveryOutcome) -> None:
        finished = utcnow()
        stats.requests += outcome.attempts
        if outcome.attempts > len(sender.urls):
            stats.retried += 1
        if outcome.delivered:
            stats.delivered += 1
            stats.latencies.append(outcome.latency_seconds)
            created = row.created_at
            if created.tzinfo is None:  # SQLite keeps naive UTC
                created = created.replace(tzinfo=dt.UTC)
            stats.lags.append((finished - created).total_seconds())
        else:
            stats.failed += 1
            if len(stats.last_errors) < 20:
                stats.last_errors[row.event_id] = outcome.error or "unknown error"
        buffer.append((row, outcome, finished))

    def send(row: Any) -> DeliveryOutcome:
        body = event_body(row.event_id, row.type, _iso(row.created_at) or "", row.payload)
        return sender.deliver(row.event_id, row.type, body)

    rows = _pages(db, now, respect_backoff, page_size, limit)
    # Workers hand results back through a queue (cheaper than polling every future with ``wait``).
    finished: queue.SimpleQueue[tuple[Any, Future[DeliveryOutcome]]] = queue.SimpleQueue()
    in_flight: dict[Future[DeliveryOutcome], Any] = {}
    exhausted = False
    executor = ThreadPoolExecutor(max_workers=max(1, sender.concurrency), thread_name_prefix="outbox")

    def collect(item: tuple[Any, Future[DeliveryOutcome]]) -> None:
        row, future = item
        in_flight.pop(future, None)
        record(row, future.result())

    try:
        while True:
            # A queue deeper than the pool keeps every worker busy while the main thread commits.
            while not exhausted and len(in_flight) < sender.concurrency * 4:
                row = next(rows, None)
                if row is None:
                    exhausted = True
                    break
                stats.considered += 1
                future = executor.submit(send, row)
                in_flight[future] = row
                future.add_done_callback(lambda f, r=row: finished.put((r, f)))
            if not in_flight:
                break
            try:
                collect(finished.get(timeout=0.5))
                while True:
                    collect(finished.get_nowait())
            except queue.Empty:
                pass
            if len(buffer) >= commit_every or time.perf_counter() - last_flush > 0.5:
                flush()
            if time.perf_counter() - last_log > 5:
                last_log = time.perf_counter()
                rate = stats.delivered / max(1e-9, last_log - started)
                log(f"outbox: {stats.delivered:,} delivered, {stats.failed:,} failed, {rate:,.0f} events/s")
    finally:
        # Whatever was delivered is recorded, even when the run is being interrupted.
        executor.shutdown(wait=True, cancel_futures=True)
        while True:
            try:
                row, future = finished.get_nowait()
            except queue.Empty:
                break
            in_flight.pop(future, None)
            if not future.cancelled() and future.exception() is None:
                record(row, future.result())
        flush()
        stats.elapsed_seconds = time.perf_counter() - started
    return stats


def pending_summary(db: SqlDatabase, now: dt.datetime | None = None) -> tuple[int, int, int]:
    """(count, highest id, total attempts) of the events a run would deliver now."""
    query = sa.select(
        sa.func.count(), sa.func.max(ob.c.id), sa.func.coalesce(sa.func.sum(ob.c.attempts), 0)
    ).where(pending_condition(now or utcnow()))
    with db.connect() as conn:
        count, max_id, attempts = conn.execute(query).one()
    return int(count), int(max_id or 0), int(attempts or 0)
