"""The streamed extraction of one company-year: read (its own process or thread) → convert → write.

No Dagster here, so the benchmark and the tests drive the very code the asset runs. The reader fetches
ordered chunks on one cursor and hands them over through a bounded queue; the writer loads them into the
warehouse inside the caller's transaction (``sql.py``: PostgreSQL ``COPY``, batched inserts elsewhere).
Memory stays bounded by ``depth × fetch_size`` lines whatever the partition's size.

Firebird is read in a forked child process (:func:`read_in_child`): fdb is a pure-Python driver, so a
reader *thread* would share one GIL with the writer. fdb also decodes every column of every row in Python,
which made a typed read of the 19 columns the whole extraction's bottleneck; so the Firebird server formats
each line as one CSV text column (``sql.movement_lines_query``) and the child only joins a fetch's lines
and puts the text around them that makes each a ``COPY`` record: no per-line Python on either side unless
the server flagged a line (an unknown code, a missing article), which then passes through the one
converter of ``movements.py``. A source with FLOAT or DOUBLE PRECISION numbers is read typed, as before
(the server's 16-digit text of a double is not the decimal it spells), CSV-encoded by the child.

The child is a process we must be able to stop at any moment: it restores the default signal handlers
(a Dagster run worker installs its own, which only record a SIGTERM), reports an error without ever
waiting for the parent, and is terminated and reaped on every way out of the read, a failed writer
included; an overall timeout bounds a read that hangs. The SQLite sandbox is read by a thread.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import multiprocessing
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.tns import sql
from cartera_pipelines.defs.tns.movements import (
    CompanyContext,
    ExtractPlan,
    MovementError,
    copy_affixes,
    make_converter,
    problem_row,
    refuse_empty,
    typed_record,
)
from cartera_pipelines.lib.bulk import csv_pieces
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.resources.tns import TnsServer, TnsSource

DEFAULT_TIMEOUT = 7200.0
"""Seconds a whole read may take (a million lines read in about 40 s on the benchmark machine)."""
_DONE = object()
_POLL = 0.2
_ERROR_TEXT = 2000


@dataclass
class ExtractStats:
    lines_read: int = 0
    lines_loaded: int = 0
    lines_replaced: int = 0
    """Lines the slice (or its date range) held before."""
    unknown_codes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    read_wait_seconds: float = 0.0
    """Time the writer waited for the reader (high: the source is the bottleneck)."""

    @property
    def lines_per_second(self) -> float:
        return self.lines_read / self.seconds if self.seconds else 0.0


class SourceReadError(RuntimeError):
    """The read failed, hung or its process died; the message carries the source's own error text."""


def read_chunks(
    tns_conn: Any, driver: str, plan: ExtractPlan, fetch_size: int
) -> Iterator[list[Sequence[Any]]]:
    """The ordered query, fetched ``fetch_size`` rows at a time on one cursor (no paging queries)."""
    query, params = sql.movements_query(driver, plan)
    cursor = tns_conn.cursor()
    try:
        if driver != "sqlite":
            cursor.arraysize = fetch_size
        cursor.execute(query, params)
        while rows := cursor.fetchmany(fetch_size):
            yield rows
    finally:
        cursor.close()


@dataclass(frozen=True)
class LineChunk:
    """Lines the Firebird server formatted (``sql.movement_lines_query``), as the reader process hands
    them over: ``text`` holds the loadable ones as CSV records in ``COLUMNS`` order, partition constants
    included; ``problems`` the flagged ones (the fields :func:`movements.problem_row` takes)."""

    text: str
    lines: int
    problems: list[list[str]]


def _line_chunks(
    conn: Any, plan: ExtractPlan, fetch_size: int, affixes: tuple[str, str]
) -> Iterator[LineChunk]:
    """The ordered server-formatted lines, a chunk per fetch; no per-line Python unless a line is flagged."""
    query, params = sql.movement_lines_query(plan)
    prefix, suffix = affixes
    between, end = f"{suffix}\n{prefix}", f"{suffix}\n"
    flagged = (prefix + sql.PROBLEM_MARK, between + sql.PROBLEM_MARK)
    cursor = conn.cursor()
    try:
        cursor.arraysize = fetch_size
        cursor.execute(query, params)
        while rows := cursor.fetchmany(fetch_size):
            lines = [row[0] for row in rows]
            text = prefix + between.join(lines) + end
            problems: list[list[str]] = []
            if text.startswith(flagged[0]) or flagged[1] in text:
                mark = sql.PROBLEM_MARK
                problems = [line[1:].split("\t", 4) for line in lines if line.startswith(mark)]
                good = [line for line in lines if not line.startswith(mark)]
                text = prefix + between.join(good) + end if good else ""
            yield LineChunk(text, len(lines), problems)
    finally:
        cursor.close()


def _has_float_numbers(conn: Any) -> bool:
    cursor = conn.cursor()
    try:
        cursor.execute(sql.FLOAT_COLUMNS_QUERY)
        return bool(cursor.fetchall())
    finally:
        cursor.close()


def _child(
    server: TnsServer,
    path: str,
    plan: ExtractPlan,
    fetch_size: int,
    affixes: tuple[str, str],
    out: Any,
    errors: Any,
) -> None:
    """The reader process: connect, stream the ordered query, put each chunk, None at the end.

    With NUMERIC numbers (TNS's own schema) the server formats the lines and a chunk is a
    :class:`LineChunk`; with FLOAT or DOUBLE PRECISION numbers it reads typed columns and puts each chunk
    as CSV text of source rows. Never waits on the parent once something went wrong: the error goes down
    its own pipe (one short message fits the pipe's buffer) and the queue's buffered chunks are abandoned.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # the heap inherited from the run worker (Dagster, SQLAlchemy, …) is never garbage here: keep the
    # collector from walking it (and from copying its pages) every few thousand fetched rows
    gc.freeze()
    try:
        with TnsSource(servers_file="").connect(server, path) as conn:
            if _has_float_numbers(conn):
                for chunk in read_chunks(conn, server.driver, plan, fetch_size):
                    out.put("".join(csv_pieces(chunk, rows_per_piece=len(chunk))))
            else:
                for lines in _line_chunks(conn, plan, fetch_size, affixes):
                    out.put(lines)
        out.put(None)
    except BaseException as exc:
        out.cancel_join_thread()
        with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
            errors.send(f"{type(exc).__name__}: {exc}"[:_ERROR_TEXT])


def _reap(child: Any) -> None:
    """Stop the child if it still runs and collect its exit status, whatever happens."""
    if child.is_alive():
        child.terminate()
        child.join(timeout=1.0)
    if child.is_alive():
        child.kill()
    child.join()


def read_in_child(
    server: TnsServer,
    path: str,
    plan: ExtractPlan,
    fetch_size: int,
    depth: int,
    timeout: float,
    affixes: tuple[str, str],
) -> Iterator[LineChunk | list[list[str]]]:
    """The ordered chunks, read by a child process on its own core: :class:`LineChunk` s, or rows of
    strings ("" is NULL) from a source with FLOAT or DOUBLE PRECISION numbers."""
    context = multiprocessing.get_context("fork")
    out = context.Queue(maxsize=depth)
    errors, child_errors = context.Pipe(duplex=False)
    child = context.Process(
        target=_child,
        args=(server, path, plan, fetch_size, affixes, out, child_errors),
        name="tns-reader",
        daemon=True,
    )
    where = f"{path} on server {server.name}"
    deadline = time.monotonic() + timeout
    child.start()
    child_errors.close()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SourceReadError(
                    f"reading {where} did not finish within {timeout:g}s; the reader was stopped"
                )
            try:
                item = out.get(timeout=min(_POLL, remaining))
            except queue.Empty:
                if errors.poll():
                    raise SourceReadError(f"reading {where} failed: {errors.recv()}") from None
                if not child.is_alive():
                    if errors.poll():
                        raise SourceReadError(f"reading {where} failed: {errors.recv()}") from None
                    raise SourceReadError(
                        f"the reader of {where} died (exit code {child.exitcode})"
                    ) from None
                continue
            if item is None:
                return
            yield item if isinstance(item, LineChunk) else list(csv.reader(io.StringIO(item), delimiter="\t"))
    finally:
        _reap(child)
        errors.close()
        out.close()


class _Reader(threading.Thread):
    """Runs ``chunks`` in a thread, handing them over through a bounded queue (SQLite sources)."""

    def __init__(self, chunks: Iterator[list[Sequence[Any]]], depth: int, timeout: float, where: str) -> None:
        super().__init__(name="tns-reader", daemon=True)
        self.chunks = chunks
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.deadline = time.monotonic() + timeout
        self.timeout, self.where = timeout, where

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                if not self._put(chunk):
                    return
        except BaseException as exc:
            self.error = exc
        finally:
            self._put(_DONE)

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[list[Sequence[Any]]]:
        while True:
            try:
                item = self.queue.get(timeout=_POLL)
            except queue.Empty:
                if time.monotonic() > self.deadline:
                    raise SourceReadError(
                        f"reading {self.where} did not finish within {self.timeout:g}s"
                    ) from None
                continue
            if item is _DONE:
                if self.error is not None:
                    raise self.error
                return
            yield item


@contextmanager
def source_chunks(
    tns: TnsSource,
    server: TnsServer,
    path: str,
    plan: ExtractPlan,
    company: CompanyContext,
    *,
    fetch_size: int,
    depth: int = 4,
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[Iterator[LineChunk | list[Sequence[Any]]]]:
    """The ordered chunks of the company-year database ``path`` for :func:`extract_into` (``company``: the
    partition's constant columns, which a Firebird reader puts around each line), read while they are
    written. Leaving the block (normally or not) stops and reaps the reader."""
    if server.driver == "firebird":
        chunks = read_in_child(server, path, plan, fetch_size, depth, timeout, copy_affixes(company))
        try:
            yield chunks
        finally:
            chunks.close()
        return
    with tns.connect(server, path) as conn:
        reader = _Reader(read_chunks(conn, server.driver, plan, fetch_size), depth, timeout, path)
        reader.start()
        try:
            yield iter(reader)
        finally:
            reader.stop.set()
            reader.join(timeout=30)


def extract_into(
    warehouse_conn: sa.Connection,
    chunks: Iterator[LineChunk | list[Sequence[Any]]],
    company: CompanyContext,
    plan: ExtractPlan,
    *,
    progress: Progress | None = None,
) -> ExtractStats:
    """Replace the partition's slice (``plan``: its part in the date range) with the lines of ``chunks``,
    inside ``warehouse_conn``'s transaction.

    A :class:`LineChunk`'s text goes to PostgreSQL's ``COPY`` as it is (typed, elsewhere); its flagged lines
    and every source row pass through the one converter, which counts unknown codes and names a bad line.
    The caller owns the transaction: if anything raises (source error, bad line, an empty answer for a
    slice that holds lines, write error), it rolls back and the previous slice stays as it was.
    """
    stats = ExtractStats()
    copy = warehouse_conn.dialect.name == "postgresql"
    convert = make_converter(company, stats.unknown_codes, copy=copy)
    started = time.perf_counter()

    def lines(chunk: LineChunk) -> str | list[tuple[Any, ...]]:
        for problem in chunk.problems:
            if convert(problem_row(problem)) is not None:  # flagged, so never loadable
                raise MovementError(
                    f"DEKARDEX line {problem[0]} was flagged by the server but passes: {problem}"
                )
        stats.lines_loaded += chunk.lines - len(chunk.problems)
        if copy or not chunk.text:
            return chunk.text
        return [
            typed_record(record, company) for record in csv.reader(io.StringIO(chunk.text), delimiter="\t")
        ]

    def converted() -> Iterator[str | list[tuple[Any, ...]]]:
        waited = time.perf_counter()
        for raw in chunks:
            stats.read_wait_seconds += time.perf_counter() - waited
            if isinstance(raw, LineChunk):
                stats.lines_read += raw.lines
                batch = lines(raw)
            else:
                stats.lines_read += len(raw)
                batch = [r for r in map(convert, raw) if r is not None]
                stats.lines_loaded += len(batch)
            if batch:
                yield batch
            if progress is not None:
                progress.update(stats.lines_read, loaded=stats.lines_loaded)
            waited = time.perf_counter()

    with sql.slice_writer(warehouse_conn, company.company_year, plan) as (table, held):
        sql.insert_movements(warehouse_conn, converted(), table)
        stats.lines_replaced = held
        refuse_empty(company.company_year, plan, stats.lines_read, held)
    stats.seconds = time.perf_counter() - started
    return stats
