"""Bulk writes: one PostgreSQL ``COPY`` stream, batched multi-row inserts elsewhere.

Everything runs on the caller's connection, inside the caller's transaction, so a failure rolls back with
everything else the asset wrote.

The COPY path is a stream: :func:`copy_stream` hands psycopg2 a file that produces text only as the server
asks for it (64 KB at a time), so the database inserts one chunk while Python encodes the next and memory
stays bounded whatever the number of rows. Rows become text through per-column encoders chosen once per
column (:func:`column_encoder`), or through ``csv.writer`` (in C) for hot paths that already hold plain
values (:func:`csv_pieces`). The format is CSV with a tab delimiter; the NULL marker is ``\\N``
unless a hot path writes ``None`` as the empty field (``null=""``). A caller that builds a whole batch
itself can write COPY's text format instead (:func:`text_field`, :func:`text_encoder`,
:func:`copy_text`): only backslash, tab, newline and CR are escaped, so JSON goes almost as it is.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from itertools import chain, islice
from typing import Any

import sqlalchemy as sa

DEFAULT_BATCH = 10_000
NULL = r"\N"
_CHUNK = 1 << 16


def copy_options(null: str = NULL) -> str:
    """The options of the one COPY format: tab-separated CSV, ``null`` for NULL."""
    marker = null.replace("\\", "\\\\").replace("'", "''")
    return f"FORMAT csv, DELIMITER E'\\t', NULL E'{marker}', QUOTE '\"'"


def _json_or_text(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def column_encoder(column: sa.Column[Any]) -> Callable[[Any], Any]:
    """Value → COPY text for one column, chosen once per column rather than per value."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return lambda v: NULL if v is None else ("t" if v else "f")
    if isinstance(kind, (sa.Date, sa.DateTime)):
        return lambda v: NULL if v is None else (v if isinstance(v, str) else v.isoformat())
    if isinstance(kind, (sa.Numeric, sa.Integer)):
        # format(…, "f"): a Decimal never goes out in exponent notation
        return lambda v: NULL if v is None else (format(v, "f") if isinstance(v, Decimal) else str(v))
    return _json_or_text


def csv_pieces(rows: Iterable[Sequence[Any]], rows_per_piece: int = 2_000) -> Iterator[str]:
    """Rows of already-encoded values → COPY text, ``rows_per_piece`` rows per string (csv.writer, in C)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", quotechar='"', lineterminator="\n")
    iterator = iter(rows)
    while chunk := list(islice(iterator, rows_per_piece)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(chunk)
        yield buffer.getvalue()


# COPY's text format (the default): only backslash, tab, newline and CR need escaping, and a value
# without them (most are) goes as it is. Faster than csv.writer, which looks at every character and
# doubles every quote (canonical JSON is full of them).
_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def text_field(value: str) -> str:
    """A string as one field of COPY's text format."""
    return value.translate(_TEXT_ESCAPES) if _NEEDS_ESCAPE.search(value) else value


def text_encoder(column: sa.Column[Any]) -> Callable[[Any], str]:
    """Value → one field of COPY's text format (``\\N`` for NULL), chosen once per column."""
    kind = column.type
    if isinstance(kind, (sa.Boolean, sa.Numeric, sa.Integer)):
        return column_encoder(column)  # t/f and digits: the same text in both formats, nothing to escape
    if isinstance(kind, (sa.Date, sa.DateTime)):
        return lambda v: NULL if v is None else text_field(v if isinstance(v, str) else v.isoformat())
    return lambda v: (
        NULL
        if v is None
        else text_field(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str))
    )


def copy_text(conn: sa.Connection, target: str, columns: Sequence[str], text: str) -> None:
    """``COPY target (columns) FROM STDIN`` of text already in COPY's text format (PostgreSQL; NULL is
    ``\\N``). For a batch that fits in memory (a page): no streaming machinery per 64 KB."""
    _copy_expert(conn, f"COPY {target} ({', '.join(columns)}) FROM STDIN", io.BytesIO(text.encode()), 1 << 20)


def _copy_expert(conn: sa.Connection, statement: str, source: Any, size: int) -> None:
    """psycopg2's ``copy_expert`` on the caller's connection (and so its transaction)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(statement, source, size=size)
    finally:
        cursor.close()


class _Stream(io.TextIOBase):
    """The file psycopg2's ``copy_expert`` reads: pieces of text are pulled only as it asks for them.

    ``error``: what producing a piece raised (a bad record, a source that failed). psycopg2 reports it
    as its own ``QueryCanceled`` ("COPY from stdin failed: error in .read() call: …"), so
    :func:`copy_stream` raises this one instead.
    """

    def __init__(self, pieces: Iterable[str]) -> None:
        self._pieces = iter(pieces)
        self._pending = ""
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        limit = size if size is not None and size > 0 else 1 << 62
        parts = [self._pending]
        length = len(self._pending)
        while length < limit:
            try:
                piece = next(self._pieces, None)
            except BaseException as exc:
                self.error = exc
                raise
            if piece is None:
                break
            parts.append(piece)
            length += len(piece)
        text = "".join(parts)
        self._pending = text[limit:]
        return text[:limit]

    readline = read  # psycopg2 only calls read(); readline keeps TextIOBase's contract honest


def copy_stream(
    conn: sa.Connection, target: str, columns: Sequence[str], pieces: Iterable[str], *, null: str = NULL
) -> None:
    """``COPY target (columns) FROM STDIN`` of COPY text produced lazily by ``pieces`` (PostgreSQL only).

    ``target`` is a table name of ours, never input. Runs on the caller's connection and transaction.
    What producing a piece raises (a record that cannot be loaded) is raised as it is.
    """
    statement = f"COPY {target} ({', '.join(columns)}) FROM STDIN WITH ({copy_options(null)})"
    stream = _Stream(pieces)
    try:
        _copy_expert(conn, statement, stream, _CHUNK)
    except Exception:
        if stream.error is not None:  # the producer's own error, not psycopg2's report of it
            raise stream.error from None
        raise


def copy_rows(
    conn: sa.Connection, table: sa.Table, rows: Iterable[Sequence[Any]], columns: Sequence[str]
) -> int:
    """Stream tuples of Python values into ``table`` with COPY, encoding each column once (PostgreSQL)."""
    encoders = [column_encoder(table.c[name]) for name in columns]
    count = 0

    def encoded() -> Iterator[list[Any]]:
        nonlocal count
        for row in rows:
            count += 1
            yield [encode(value) for encode, value in zip(encoders, row)]

    copy_stream(conn, table.fullname, columns, csv_pieces(encoded()))
    return count


def insert_rows(
    conn: sa.Connection,
    table: sa.Table,
    rows: Iterable[Mapping[str, Any]],
    batch_size: int = DEFAULT_BATCH,
) -> int:
    """Insert dict rows in bulk: ``COPY`` on PostgreSQL, batched executemany elsewhere."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    everything = chain([first], iterator)
    if conn.dialect.name == "postgresql":
        columns = list(first.keys())
        return copy_rows(conn, table, (tuple(row[c] for c in columns) for row in everything), columns)
    total = 0
    while batch := list(islice(everything, batch_size)):
        conn.execute(table.insert(), batch)
        total += len(batch)
    return total


class BackgroundCommits:
    """Overlap the client's work on the next batch with the database's work on this one (PostgreSQL).

    A batched writer spends its time in two places that can run at once: Python preparing a batch
    (reads, decisions, COPY text) and the server parsing, indexing and committing the previous one.
    :meth:`submit` hands over a batch's open transaction with its text for :func:`copy_text`; one writer thread sends it
    and commits, in order, while the caller prepares the next batch on another connection. At most one
    batch waits: :meth:`submit` first waits for the batch before. The writer's first failure is raised
    in the caller (at the next :meth:`submit` or on leaving the ``with``); the transaction it failed in is
    rolled back, and so is every one submitted after it. Each batch stays one transaction.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy-commit")
        self._pending: Future[None] | None = None

    def __enter__(self) -> BackgroundCommits:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)

    def wait(self) -> None:
        """Wait for the batch in flight; raise its failure."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def submit(
        self,
        conn: sa.Connection,
        transaction: sa.RootTransaction,
        target: str,
        columns: Sequence[str],
        text: str,
    ) -> None:
        """COPY ``text`` into ``target`` inside ``transaction`` and commit it, on the writer thread. The
        connection belongs to the writer from here on (it closes it)."""
        try:
            self.wait()
        except BaseException:
            rollback_and_close(conn, transaction)
            raise
        self._pending = self._pool.submit(_copy_and_commit, conn, transaction, target, columns, text)


def rollback_and_close(conn: sa.Connection, transaction: sa.RootTransaction) -> None:
    """Give up a batch's transaction and its connection (whatever the rollback raises)."""
    try:
        transaction.rollback()
    finally:
        conn.close()


def _copy_and_commit(
    conn: sa.Connection, transaction: sa.RootTransaction, target: str, columns: Sequence[str], text: str
) -> None:
    try:
        if text:
            copy_text(conn, target, columns, text)
        transaction.commit()
    except BaseException:
        rollback_and_close(conn, transaction)
        raise
    conn.close()
