"""Tables we do not own, read as they are (DESIGN §1).

A service we do not control created them, so a column we mean as a date may really be DATE, TIMESTAMP or
TIMESTAMPTZ (MariaDB: DATE, DATETIME or TIMESTAMP; SQLite: ISO text), an amount NUMERIC, DECIMAL, DOUBLE
PRECISION or INTEGER, text of any length, JSON as JSON, JSONB or text. A family declares each table with
the types it *means* (its SQLAlchemy ``Table``) and reads it through :class:`ForeignTable`::

    invoices = ForeignTable.reflect(conn, tables.facturas, ["id", "fecha_vencimiento"], zone=SANTIAGO)
    for row in conn.execute(sa.select(*invoices.columns("id", "fecha_vencimiento"))):
        due = invoices.value("fecha_vencimiento", row.fecha_vencimiento, record=row.id)

Reflection happens once per read. A missing column, or one whose type cannot hold what we mean, fails at
once with one line naming table, column and expectation (:class:`ForeignColumnError`). Values come back as
the driver gives them (no type processing on the way) and are normalised here, in one place: a date is
the calendar date in the business's zone (an instant — TIMESTAMPTZ, MariaDB TIMESTAMP — is converted, a
wall-clock TIMESTAMP keeps its date), a moment an aware UTC datetime (naive means UTC), an amount an exact
``Decimal`` (a DOUBLE goes through its shortest repr, never its binary expansion), text a ``str``, JSON
the parsed document. A value that cannot be read raises :class:`ForeignValueError` naming table, column,
record and value, so the caller reports that record in one line and goes on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

_UTC = dt.UTC
_RAW = sa.types.NullType()

DATE, MOMENT, NUMBER, INTEGER, TEXT, JSON = "date", "moment", "number", "integer", "text", "json"
EXPECTATIONS = {
    DATE: "a date (DATE, TIMESTAMP or TIMESTAMPTZ)",
    MOMENT: "a timestamp (TIMESTAMP, TIMESTAMPTZ or DATE)",
    NUMBER: "a number (NUMERIC, DECIMAL, DOUBLE PRECISION or INTEGER)",
    INTEGER: "an integer",
    TEXT: "text",
    JSON: "JSON (JSON, JSONB or text)",
}
# Which reflected types can hold each kind (values are still checked one by one).
_HOLDERS: dict[str, tuple[type, ...]] = {
    DATE: (sa.Date, sa.DateTime, sa.String),
    MOMENT: (sa.Date, sa.DateTime, sa.String),
    NUMBER: (sa.Numeric, sa.Integer, sa.String),
    INTEGER: (sa.Integer, sa.Numeric),
    TEXT: (sa.String, sa.Uuid),
    JSON: (sa.JSON, sa.String),
}


class ForeignColumnError(RuntimeError):
    """A column of a table we do not own is missing or cannot hold what we read from it (one line)."""


class ForeignValueError(ValueError):
    """One value that cannot be read as what we mean; names table, column, record and value."""


def kind_of(declared: sa.types.TypeEngine[Any]) -> str:
    """What a column declared with this type means to us."""
    if isinstance(declared, sa.DateTime):
        return MOMENT
    if isinstance(declared, sa.Date):
        return DATE
    if isinstance(declared, sa.Integer):
        return INTEGER
    if isinstance(declared, sa.Numeric):
        return NUMBER
    if isinstance(declared, sa.JSON):
        return JSON
    return TEXT


@dataclass(frozen=True)
class ForeignColumn:
    name: str
    kind: str
    type: sa.types.TypeEngine[Any]
    """As reflected from the database."""
    instant: bool
    """A point in time (PostgreSQL TIMESTAMPTZ, MariaDB TIMESTAMP), not a wall-clock reading."""


@dataclass(frozen=True)
class ForeignTable:
    table: sa.Table
    dialect: str
    zone: ZoneInfo
    found: dict[str, ForeignColumn]

    @classmethod
    def reflect(
        cls,
        conn: sa.Connection,
        table: sa.Table,
        names: Iterable[str],
        *,
        zone: ZoneInfo,
        optional: Iterable[str] = (),
    ) -> ForeignTable:
        """Look at the real columns ``names`` of ``table``; fail in one line if one cannot be read.

        ``zone`` is the business's time zone: the calendar date of an instant is taken there. ``optional``
        columns are used when present (:meth:`has`), and checked like the others when they are.
        """
        inspector = sa.inspect(conn)
        if not inspector.has_table(table.name, schema=table.schema):
            raise ForeignColumnError(
                f"table {table.name} not found in the {conn.engine.url.database} database"
            )
        real = {
            column["name"].lower(): column
            for column in inspector.get_columns(table.name, schema=table.schema)
        }
        found = {}
        maybe = set(optional)
        for name in [*names, *maybe]:
            kind = kind_of(table.c[name].type)
            column = real.get(name.lower())
            if column is None and name in maybe:
                continue
            if column is None:
                raise ForeignColumnError(f"{table.name}.{name} is missing: expected {EXPECTATIONS[kind]}")
            reflected = column["type"]
            if not isinstance(reflected, (*_HOLDERS[kind], sa.types.NullType)):
                raise ForeignColumnError(
                    f"{table.name}.{name} is {_type_name(reflected, conn)}: expected {EXPECTATIONS[kind]}"
                )
            found[name] = ForeignColumn(name, kind, reflected, _is_instant(conn.dialect.name, reflected))
        return cls(table, conn.dialect.name, zone, found)

    def has(self, name: str) -> bool:
        return name in self.found

    def expr(self, name: str) -> sa.ColumnElement[Any]:
        """The column as the driver gives it (MariaDB TIMESTAMP as epoch seconds, free of the session zone)."""
        column = self.table.c[name]
        if self.found[name].instant and self.dialect == "mysql":
            return sa.type_coerce(sa.func.unix_timestamp(column), _RAW)
        return sa.type_coerce(column, _RAW)

    def columns(self, *names: str) -> list[sa.Label[Any]]:
        """Select expressions for ``names``, labelled with their names."""
        return [self.expr(name).label(name) for name in names]

    def before_day(self, name: str, day: dt.date) -> sa.ColumnElement[bool]:
        """SQL: the calendar date of column ``name`` (in the table's zone) is before ``day``.

        A DATE or wall-clock TIMESTAMP compares with ``day`` itself (midnight of ``day``); an instant
        compares with the instant midnight of ``day`` happens in the zone.
        """
        column = self.table.c[name]
        if not self.found[name].instant:
            return column < sa.literal(day, sa.Date)
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self.zone)
        if self.dialect == "mysql":
            return sa.func.unix_timestamp(column) < sa.literal(int(midnight.timestamp()), sa.BigInteger)
        return column < sa.literal(midnight, sa.DateTime(timezone=True))

    def value(self, name: str, raw: Any, *, record: object = None) -> Any:
        """``raw`` (from :meth:`expr`) as what we mean: date, aware datetime, Decimal, int, str or JSON.
        ``None`` stays ``None`` where the column is declared nullable; anything unreadable (or empty where
        it may not be) raises :class:`ForeignValueError`."""
        kind = self.found[name].kind
        if raw is None:
            if self.table.c[name].nullable:
                return None
            where = f" (id {record})" if record is not None else ""
            raise ForeignValueError(
                f"{self.table.name}.{name}{where} is empty: expected {EXPECTATIONS[kind]}"
            )
        try:
            return _NORMALISERS[kind](raw, self.zone)
        except (ValueError, TypeError, ArithmeticError) as exc:
            where = f" (id {record})" if record is not None else ""
            raise ForeignValueError(
                f"{self.table.name}.{name}{where} = {str(raw)[:80]!r} is not {EXPECTATIONS[kind]}: {exc}"
            ) from None


def _is_instant(dialect: str, reflected: sa.types.TypeEngine[Any]) -> bool:
    if dialect == "postgresql":
        return isinstance(reflected, sa.DateTime) and bool(reflected.timezone)
    return dialect == "mysql" and isinstance(reflected, mysql.TIMESTAMP)


def _type_name(reflected: sa.types.TypeEngine[Any], conn: sa.Connection) -> str:
    try:
        return reflected.compile(dialect=conn.dialect)
    except Exception:  # a type the dialect cannot spell back
        return type(reflected).__name__


# --- normalisers: what a driver returns → what we mean ------------------------------------------------------


def to_moment(value: Any, zone: ZoneInfo | None = None) -> dt.datetime:
    """An aware UTC datetime. A naive one is UTC (what SQLite and TIMESTAMP columns we write hold); a date
    is its midnight in ``zone``; a number is epoch seconds; text is ISO 8601."""
    if isinstance(value, str):
        value = _parse_iso(value)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=_UTC)).astimezone(_UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=zone or _UTC).astimezone(_UTC)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), _UTC)
    raise TypeError(f"a {type(value).__name__}")


def to_date(value: Any, zone: ZoneInfo) -> dt.date:
    """The calendar date: an aware datetime's (or epoch's) in ``zone``, a naive one's as written."""
    if isinstance(value, str):
        value = _parse_iso(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), _UTC).astimezone(zone).date()
    raise TypeError(f"a {type(value).__name__}")


def to_decimal(value: Any, _zone: ZoneInfo | None = None) -> Decimal:
    """Exact: a float goes through its shortest repr (``0.1`` → ``Decimal('0.1')``); text is parsed."""
    if isinstance(value, bool):
        raise TypeError("a boolean")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            raise ValueError("not a number") from None
    else:
        raise TypeError(f"a {type(value).__name__}")
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def to_integer(value: Any, _zone: ZoneInfo | None = None) -> int:
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError("has a fraction")
    return int(number)


def to_text(value: Any, _zone: ZoneInfo | None = None) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else str(value)


def to_json(value: Any, _zone: ZoneInfo | None = None) -> Any:
    """A parsed document: JSON/JSONB columns come parsed from most drivers, text columns are parsed here."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode()
    if isinstance(value, str):
        return json.loads(value)
    return value


def _parse_iso(text: str) -> dt.date | dt.datetime:
    text = text.strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


_NORMALISERS = {
    DATE: to_date,
    MOMENT: to_moment,
    NUMBER: to_decimal,
    INTEGER: to_integer,
    TEXT: to_text,
    JSON: to_json,
}
