"""The tables we do not own, as they are: which column types we accept, and every value read from them
(or written into them) normalised here, in one place (DESIGN §1 "tables we do not own").

The lender's services created their tables from their own models: a date may be a DATE, a TIMESTAMP
holding ``datetime.now()`` or a TIMESTAMPTZ; an amount a NUMERIC, DECIMAL or DOUBLE PRECISION; text any
length. Drivers hand those back as ``date``, naive or aware ``datetime``, or (SQLite) text. Days are
Bogotá's: an aware moment is converted to Bogotá before its date is taken; a naive one is already local
wall time. Pure: no Dagster, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.lib.dates import BOGOTA

MIDNIGHT = dt.time(0, 0)


class SourceSchemaError(RuntimeError):
    """A table we do not own lacks a column we need, or the column's type cannot hold what we expect."""


class SourceValueError(ValueError):
    """A value in a table we do not own cannot be read as what its column should hold."""


class Kind(StrEnum):
    """What a column of a table we do not own holds, as far as we are concerned."""

    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"
    TIMESTAMPTZ = "TIMESTAMPTZ"
    INTEGER = "INTEGER"
    NUMBER = "NUMBER"
    TEXT = "TEXT"
    UNTYPED = "UNTYPED"
    """SQLite: a declared type SQLAlchemy does not know (SQLite stores any value anyway)."""


DATES = frozenset({Kind.DATE, Kind.TIMESTAMP, Kind.TIMESTAMPTZ})
# What each of our declared types accepts in the lender's table, and how a failure names it.
EXPECTED: dict[str, tuple[frozenset[Kind], str]] = {
    "date": (DATES, "a DATE, TIMESTAMP or TIMESTAMPTZ column"),
    "integer": (frozenset({Kind.INTEGER, Kind.NUMBER}), "an integer column (INTEGER, BIGINT, NUMERIC)"),
    "number": (
        frozenset({Kind.INTEGER, Kind.NUMBER}),
        "a NUMERIC, DECIMAL, DOUBLE PRECISION or integer column",
    ),
    "text": (frozenset({Kind.TEXT}), "a text column (CHAR, VARCHAR, TEXT)"),
}
# SQLite has no column types, only affinities: dates there are text, and any declared name is allowed.
SQLITE_ALSO = frozenset({Kind.TEXT, Kind.UNTYPED})


def kind_of(column_type: sa.types.TypeEngine[Any]) -> Kind | None:
    """The kind of a reflected column type; ``None`` for types we cannot read (BLOB, BOOLEAN, MONEY …)."""
    if isinstance(column_type, sa.DateTime):
        return Kind.TIMESTAMPTZ if getattr(column_type, "timezone", False) else Kind.TIMESTAMP
    if isinstance(column_type, sa.Date):
        return Kind.DATE
    if isinstance(column_type, sa.Integer):
        return Kind.INTEGER
    if isinstance(column_type, sa.Numeric):  # NUMERIC, DECIMAL, FLOAT, REAL, DOUBLE PRECISION
        return Kind.NUMBER
    if isinstance(column_type, sa.String):  # CHAR, VARCHAR, TEXT, ENUM
        return Kind.TEXT
    if isinstance(column_type, sa.types.NullType):
        return Kind.UNTYPED
    return None


def expectation_of(declared: sa.types.TypeEngine[Any]) -> str:
    """Which ``EXPECTED`` entry a column we declare in ``tables.py`` asks of the lender's column."""
    if isinstance(declared, (sa.Date, sa.DateTime)):
        return "date"
    if isinstance(declared, sa.Integer):
        return "integer"
    if isinstance(declared, sa.Numeric):
        return "number"
    return "text"


def accepts(expectation: str, kind: Kind | None, dialect: str) -> bool:
    allowed, _ = EXPECTED[expectation]
    return kind in allowed or (dialect == "sqlite" and kind in SQLITE_ALSO)


# --- values read ------------------------------------------------------------------------------------------


def _moment(value: Any) -> dt.date | None:
    """A date or datetime from whatever a driver hands back; ``None`` when it is not one."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return dt.datetime.fromisoformat(text.strip())
        except ValueError:
            return None
    return None


def to_date(value: Any) -> dt.date | None:
    """The day in Bogotá of a DATE, TIMESTAMP or TIMESTAMPTZ value (or its ISO text); ``None`` if unreadable."""
    if type(value) is dt.date:  # the common case first: a DATE column read by a typed driver
        return value
    moment = _moment(value)
    if isinstance(moment, dt.datetime):
        return (moment.astimezone(BOGOTA) if moment.tzinfo is not None else moment).date()
    return moment


def to_local(value: Any) -> dt.date | None:
    """A date or a naive datetime in Bogotá's wall time (what Excel and a person read); ``None`` if
    unreadable. An aware moment is converted to Bogotá; a naive one is already local."""
    moment = _moment(value)
    if isinstance(moment, dt.datetime) and moment.tzinfo is not None:
        return moment.astimezone(BOGOTA).replace(tzinfo=None)
    return moment


def to_int(value: Any) -> int:
    """An id from an INTEGER, BIGINT or NUMERIC column (a Decimal or float with no fraction)."""
    return value if type(value) is int else int(value)


# --- values written or compared ---------------------------------------------------------------------------


def day_value(kind: Kind, dialect: str, day: dt.date) -> Any:
    """What to write for ``day`` into a column of ``kind``: a date into a DATE, Bogotá's midnight into a
    TIMESTAMP (naive, local) or a TIMESTAMPTZ (aware, so the server stores the right instant whatever its
    session zone). SQLite stores text, in the forms ``datetime.isoformat(" ")`` writes."""
    if kind == Kind.TIMESTAMP:
        moment = dt.datetime.combine(day, MIDNIGHT)
    elif kind == Kind.TIMESTAMPTZ:
        moment = dt.datetime.combine(day, MIDNIGHT, tzinfo=BOGOTA)
    else:
        return day.isoformat() if dialect == "sqlite" else day
    return moment.isoformat(" ") if dialect == "sqlite" else moment


def day_bound(kind: Kind, dialect: str, day: dt.date) -> Any:
    """The value to compare a column of ``kind`` with, for "before ``day``" (``column < bound``).

    On SQLite the comparison is between texts: the bare ``YYYY-MM-DD`` sorts before every moment of that
    day whatever form it was written in (``2026-11-21``, ``2026-11-21 11:10:43``, ``2026-11-21T…``).
    """
    return day.isoformat() if dialect == "sqlite" else day_value(kind, dialect, day)


class Complaints:
    """One line per bad record (what, where, which id), at most ``limit`` of them, then a count."""

    def __init__(self, warn: Callable[[str], Any] | None, limit: int = 20) -> None:
        self.warn, self.limit, self.count = warn, limit, 0

    def add(self, line: str) -> None:
        self.count += 1
        if self.warn is not None and self.count <= self.limit:
            self.warn(line)

    def finish(self, what: str) -> None:
        if self.warn is not None and self.count > self.limit:
            self.warn(
                f"{what}: {self.count:,} unreadable values in all ({self.count - self.limit:,} not shown)"
            )
