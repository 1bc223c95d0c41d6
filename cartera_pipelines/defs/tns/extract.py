"""The streamed extraction of one company-year: read (one thread) → convert → write (another thread).

No Dagster here, so the benchmark and the tests drive the very code the asset runs. The reader
fetches ordered chunks from the TNS connection into a bounded queue; the writer converts them and
loads them into the warehouse inside the caller's transaction (PostgreSQL ``COPY``, batched inserts
elsewhere). Memory stays bounded by ``queue_chunks × fetch_size`` rows whatever the partition's size.

Firebird into PostgreSQL reads in a child process (:func:`source_chunks`): fdb is a pure-Python driver,
so a reader *thread* shares one GIL with the converter and the pipeline can never use both cores
(measured: 61 % of a bare read's throughput). The child CSV-encodes each fetched chunk (C speed) and
hands over plain text, which crosses the process boundary almost for free; pickling the Decimal and
date values instead cost the child as much as the GIL contention did.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.tns import sql
from cartera_pipelines.defs.tns.movements import CompanyContext, make_converter
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.resources.tns import TnsServer, TnsSource

_DONE = object()


@dataclass
class ExtractStats:
    lines_read: int = 0
    lines_loaded: int = 0
    unknown_codes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    read_wait_seconds: float = 0.0
    """Time the writer waited for the reader (high: the source is the bottleneck)."""

    @property
    def lines_per_second(self) -> float:
        return self.lines_read / self.seconds if self.seconds else 0.0


def read_chunks(tns_conn: Any, driver: str, fetch_size: int) -> Iterator[list[Sequence[Any]]]:
    """The ordered query, fetched ``fetch_size`` rows at a time on one cursor (no paging queries)."""
    cursor = tns_conn.cursor()
    try:
        if driver != "sqlite":
            cursor.arraysize = fetch_size
        cursor.execute(sql.movements_query(driver))
        while rows := cursor.fetchmany(fetch_size):
            yield rows
    finally:
        cursor.close()


class SourceReadError(RuntimeError):
    """The reader process failed; the message carries the source's own error text."""


def _read_csv_in_child(server: TnsServer, path: str, fetch_size: int, out: Any) -> None:
    """Child process: connect, stream the ordered query, put each chunk as CSV text; None ends the
    stream, ``("error", text)`` reports a failure."""
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        with TnsSource(servers_file="").connect(server, path) as conn:
            for chunk in read_chunks(conn, server.driver, fetch_size):
                buffer.seek(0)
                buffer.truncate()
                writer.writerows(chunk)
                out.put(buffer.getvalue())
        out.put(None)
    except BaseException as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def read_csv_chunks_in_process(
    server: TnsServer, path: str, fetch_size: int, depth: int = 4, poll_seconds: float = 1.0
) -> Iterator[list[list[str]]]:
    """The ordered chunks as rows of strings ("" is NULL), read by a child process on its own core."""
    context = multiprocessing.get_context("fork")
    out = context.Queue(maxsize=depth)
    child = context.Process(
        target=_read_csv_in_child, args=(server, path, fetch_size, out), name="tns-reader", daemon=True
    )
    child.start()
    try:
        while True:
            try:
                item = out.get(timeout=poll_seconds)
            except queue.Empty:
                if not child.is_alive():
                    raise SourceReadError(
                        f"the reader process for {path} died (exit code {child.exitcode})"
                    ) from None
                continue
            if item is None:
                return
            if isinstance(item, tuple):
                raise SourceReadError(f"reading {path} on server {server.name} failed: {item[1]}")
            yield list(csv.reader(io.StringIO(item)))
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=10)
        out.close()


@contextmanager
def source_chunks(
    tns: TnsSource, server: TnsServer, path: str, fetch_size: int, *, bulk: bool, depth: int = 4
) -> Iterator[tuple[Iterator[list[Sequence[Any]]], str]]:
    """``(chunks, row_format)`` for :func:`extract_into`. Firebird into a bulk (``COPY``) warehouse reads
    in a child process; everything else reads on a connection of this process."""
    if server.driver == "firebird" and bulk:
        yield read_csv_chunks_in_process(server, path, fetch_size, depth), "csv"
        return
    with tns.connect(server, path) as conn:
        yield read_chunks(conn, server.driver, fetch_size), server.driver


class _Reader(threading.Thread):
    """Runs ``chunks`` in a thread, handing them over through a bounded queue."""

    def __init__(self, chunks: Iterator[list[Sequence[Any]]], depth: int) -> None:
        super().__init__(name="tns-reader", daemon=True)
        self.chunks = chunks
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                while not self.stop.is_set():
                    try:
                        self.queue.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    return
        except BaseException as exc:
            self.error = exc
        finally:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()
            self._put_done()

    def _put_done(self) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(_DONE, timeout=0.2)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[list[Sequence[Any]]]:
        while True:
            item = self.queue.get()
            if item is _DONE:
                if self.error is not None:
                    raise self.error
                return
            yield item


def extract_into(
    warehouse_conn: sa.Connection,
    chunks: Iterator[list[Sequence[Any]]],
    company: CompanyContext,
    driver: str,
    *,
    queue_chunks: int = 4,
    progress: Progress | None = None,
) -> ExtractStats:
    """Replace the partition's slice with the rows of ``chunks``, inside ``warehouse_conn``'s transaction.

    The caller owns the transaction: if anything raises (source error, bad line, write error), it
    rolls back and the previous slice stays as it was.
    """
    stats = ExtractStats()
    convert = make_converter(company, driver, stats.unknown_codes)
    started = time.perf_counter()
    sql.delete_movements(warehouse_conn, company.company_year)
    reader = _Reader(chunks, queue_chunks)
    reader.start()

    def converted() -> Iterator[list[tuple[Any, ...]]]:
        waited = time.perf_counter()
        for raw in reader:
            stats.read_wait_seconds += time.perf_counter() - waited
            stats.lines_read += len(raw)
            rows = [r for r in map(convert, raw) if r is not None]
            if rows:
                yield rows
                stats.lines_loaded += len(rows)
            if progress is not None:
                progress.update(stats.lines_read, loaded=stats.lines_loaded)
            waited = time.perf_counter()

    try:
        sql.insert_movements(warehouse_conn, converted())
    finally:
        reader.stop.set()
        reader.join(timeout=30)
    stats.seconds = time.perf_counter() - started
    return stats
