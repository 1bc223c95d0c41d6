"""The outbox delivery loop: pending events → signed webhooks → ``delivered_at``, at least once.

Not pure (it reads and writes the outbox and calls the sender) but free of Dagster, so the asset stays
thin and the benchmark drives the same code. How nothing is lost:

- events are read in pages by ascending id (keyset, short read transactions), never all at once;
- up to ``sender.concurrency`` events are in flight on a thread pool; each result is buffered and the
  buffer is committed every ``commit_every`` results (or half a second): ``delivered_at`` right after
  the 2xx, ``attempts``/``last_error``/``next_attempt_at`` after a failure, ``parked_at`` once an
  event has failed ``sender.max_attempts`` delivery attempts (one per run);
- an event that cannot even be sent (a payload that is not JSON, a value the driver cannot read, any
  error while sending) is one failed attempt like a 503: it backs off and parks, and the run goes on;
- if the process dies, the events delivered but not yet committed (at most the buffer plus those in
  flight) are sent again by the next run — receivers drop them by ``Idempotency-Key``. An interrupted
  run (Dagster termination, an exception) still commits what it already delivered.
"""

from __future__ import annotations

import datetime as dt
import queue
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.factoring import sql
from cartera_pipelines.lib.dates import utcnow
from cartera_pipelines.lib.foreign_tables import ForeignTable, ForeignValueError
from cartera_pipelines.lib.metadata import markdown_table
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import DeliveryOutcome, WebhookSender, event_body

MAX_BACKOFF_BETWEEN_RUNS = dt.timedelta(hours=1)


def _iso(value: dt.datetime | None) -> str | None:
    """An aware moment as ISO 8601 in UTC with ``Z``."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def backoff_between_runs(failed_attempts: int) -> dt.timedelta:
    """1, 2, 4 … minutes after the 1st, 2nd, 3rd … failed attempt, at most an hour."""
    return min(dt.timedelta(minutes=2 ** (max(1, failed_attempts) - 1)), MAX_BACKOFF_BETWEEN_RUNS)


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
    cpu_seconds: float = 0.0
    """CPU the process spent during the loop (all its threads): what bounds it on a busy machine."""

    @staticmethod
    def percentiles(values: list[float], scale: float = 1.0) -> dict[str, float]:
        if not values:
            return {}
        if len(values) == 1:
            return {"p50": values[0] * scale, "p95": values[0] * scale, "p99": values[0] * scale}
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return {"p50": cuts[49] * scale, "p95": cuts[94] * scale, "p99": cuts[98] * scale}

    def summary(self) -> dict[str, Any]:
        """What a run reports: counts, rate, request latency (ms) and creation-to-delivery lag (s)."""
        rate = round(self.delivered / self.elapsed_seconds, 1) if self.elapsed_seconds else 0.0
        latency = self.percentiles(self.latencies, scale=1000)
        lag = self.percentiles(self.lags)
        return {
            "dagster/row_count": self.delivered,
            "delivered": self.delivered,
            "retried": self.retried,
            "failed": self.failed,
            "parked": self.parked,
            "http_requests": self.requests,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "events_per_second": rate,
            **{f"latency_ms_{k}": round(v, 1) for k, v in latency.items()},
            **{f"lag_seconds_{k}": round(v, 1) for k, v in lag.items()},
        }

    def errors_table(self) -> str:
        """A Markdown table of the kinds of error seen (the text before the first colon), with counts."""
        errors = Counter(error.split(":")[0] for error in self.last_errors.values())
        return markdown_table([{"error": kind, "events": count} for kind, count in errors.items()])


def _pages(
    db: SqlDatabase, outbox: ForeignTable, now: dt.datetime, respect_backoff: bool, page_size: int, limit: int
) -> Iterator[Any]:
    last_id, yielded = 0, 0
    while True:
        size = page_size if not limit else min(page_size, limit - yielded)
        if size <= 0:
            return
        with db.connect() as conn:
            rows = sql.pending_page(
                conn, outbox, after_id=last_id, size=size, now=now, respect_backoff=respect_backoff
            )
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
    log: Callable[[str], None] | None = None,
    on_commit: Callable[[DeliveryStats], None] | None = None,
) -> DeliveryStats:
    """Deliver every pending event once (each with in-place retries); returns what happened."""
    now = utcnow()
    with db.connect() as conn:
        outbox = sql.outbox_as_it_is(conn)
        due = sql.pending_summary(conn, now)[0] if respect_backoff else None
    total = min(due, limit) if due is not None and limit else due
    progress = Progress(log, "outbox", total=total, unit="events")
    run = _DeliveryRun(db, sender, outbox, commit_every, progress, on_commit)
    run.deliver(_pages(db, outbox, now, respect_backoff, page_size, limit))
    return run.stats


@dataclass(frozen=True)
class _Sent:
    outcome: DeliveryOutcome
    created_at: dt.datetime | None


class _DeliveryRun:
    """One run of the loop: a thread pool sends, the calling thread records results and commits them."""

    def __init__(
        self,
        db: SqlDatabase,
        sender: WebhookSender,
        outbox: ForeignTable,
        commit_every: int,
        progress: Progress,
        on_commit: Callable[[DeliveryStats], None] | None,
    ) -> None:
        self.db, self.sender, self.outbox, self.commit_every = db, sender, outbox, commit_every
        self.progress, self.on_commit = progress, on_commit
        self.stats = DeliveryStats()
        self.writer: sa.Connection
        self.buffer: list[tuple[Any, DeliveryOutcome, dt.datetime]] = []
        self.last_flush = time.perf_counter()
        # Workers hand results back through a queue (cheaper than polling every future with ``wait``).
        self.finished: queue.SimpleQueue[tuple[Any, Future[_Sent]]] = queue.SimpleQueue()
        self.in_flight: dict[Future[_Sent], Any] = {}

    def deliver(self, rows: Iterator[Any]) -> None:
        # One connection for every commit of the run (not one checkout, and one ping, per commit).
        with self.db.connect() as self.writer:
            self._deliver(rows)

    def _deliver(self, rows: Iterator[Any]) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        executor = ThreadPoolExecutor(
            max_workers=max(1, self.sender.concurrency), thread_name_prefix="outbox"
        )
        exhausted = False
        try:
            while True:
                # A queue deeper than the pool keeps every worker busy while this thread commits.
                while not exhausted and len(self.in_flight) < self.sender.concurrency * 4:
                    row = next(rows, None)
                    if row is None:
                        exhausted = True
                        break
                    self.submit(executor, row)
                if not self.in_flight:
                    break
                self.collect_finished(timeout=0.5)
                if len(self.buffer) >= self.commit_every or time.perf_counter() - self.last_flush > 0.5:
                    self.flush()
                self.progress.update(
                    self.stats.considered, delivered=self.stats.delivered, failed=self.stats.failed
                )
        finally:
            # Whatever was delivered is recorded, even when the run is being interrupted.
            executor.shutdown(wait=True, cancel_futures=True)
            self.collect_finished(timeout=None)
            self.flush()
            self.stats.elapsed_seconds = time.perf_counter() - started
            self.stats.cpu_seconds = time.process_time() - cpu
            self.progress.finish(
                delivered=self.stats.delivered, failed=self.stats.failed, parked=self.stats.parked
            )

    def submit(self, executor: ThreadPoolExecutor, row: Any) -> None:
        self.stats.considered += 1
        future = executor.submit(self.send, row)
        self.in_flight[future] = row
        future.add_done_callback(lambda done, event=row: self.finished.put((event, done)))

    def send(self, row: Any) -> _Sent:
        """One delivery attempt of one event; whatever goes wrong is that event's failed attempt."""
        outbox = self.outbox
        try:
            event_id = outbox.value("event_id", row.event_id, record=row.id)
            kind = outbox.value("type", row.type, record=event_id)
            created = outbox.value("created_at", row.created_at, record=event_id)
            payload = outbox.value("payload", row.payload, record=event_id)
            body = event_body(event_id, kind, _iso(created) or "", payload)
        except ForeignValueError as exc:
            return _Sent(DeliveryOutcome(str(row.event_id), False, 0, 0.0, str(exc)), None)
        except Exception as exc:  # anything else about this event: its attempt fails, the run goes on
            error = f"{type(exc).__name__}: {exc}"
            return _Sent(DeliveryOutcome(str(row.event_id), False, 0, 0.0, error), None)
        return _Sent(self.sender.deliver(event_id, kind, body), created)

    def collect_finished(self, timeout: float | None) -> None:
        """Record every finished send; wait up to ``timeout`` for the first (``None``: do not wait, and
        skip sends that raised: the run is ending with an error already)."""
        try:
            item = self.finished.get(timeout=timeout) if timeout else self.finished.get_nowait()
            while True:
                row, future = item
                self.in_flight.pop(future, None)
                if timeout is not None or not future.cancelled() and future.exception() is None:
                    self.record(row, future.result())
                item = self.finished.get_nowait()
        except queue.Empty:
            pass

    def record(self, row: Any, sent: _Sent) -> None:
        finished, stats, outcome = utcnow(), self.stats, sent.outcome
        stats.requests += outcome.requests
        if outcome.requests > len(self.sender.urls):
            stats.retried += 1
        if outcome.delivered:
            stats.delivered += 1
            stats.latencies.append(outcome.latency_seconds)
            if sent.created_at is not None:
                stats.lags.append((finished - sent.created_at).total_seconds())
        else:
            stats.failed += 1
            if len(stats.last_errors) < 20:
                stats.last_errors[outcome.event_id] = outcome.error or "unknown error"
        self.buffer.append((row, outcome, finished))

    def flush(self) -> None:
        """Commit the buffered results: delivered marks, and failed attempts with backoff or parking."""
        self.last_flush = time.perf_counter()
        if not self.buffer:
            return
        delivered, failed = [], []
        for row, outcome, finished in self.buffer:
            if outcome.delivered:
                delivered.append({"b_id": row.id, "b_at": finished})
                continue
            attempts = (row.attempts or 0) + 1
            failed.append(
                {
                    "b_id": row.id,
                    "b_at": finished,
                    "b_error": (outcome.error or "unknown error")[:2000],
                    "b_next": finished + backoff_between_runs(attempts),
                }
            )
            if attempts >= self.sender.max_attempts:
                self.stats.parked += 1
        with self.writer.begin():
            sql.mark_delivered(self.writer, delivered)
            sql.mark_failed(self.writer, failed, max_attempts=self.sender.max_attempts)
        self.buffer.clear()
        if self.on_commit is not None:
            self.on_commit(self.stats)


def pending_summary(db: SqlDatabase, now: dt.datetime | None = None) -> tuple[int, int, int]:
    """(count, highest id, total attempts) of the events a run would deliver now."""
    with db.connect() as conn:
        return sql.pending_summary(conn, now or utcnow())
