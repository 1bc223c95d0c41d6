"""Values of the lender's tables as they are, made canonical in one place. Pure: no Dagster, no I/O.

``prestamos`` and ``cuotas`` belong to the lender's system, so a column may be DATE, TIMESTAMP or
TIMESTAMPTZ (or ISO text, as SQLite stores them), NUMERIC, DECIMAL or DOUBLE PRECISION, text of any length
and case. The reads in :mod:`sql` hand the driver's values over untouched; these functions turn them into
``date``, ``Decimal``, ``int`` and upper-case words, or ``None`` when a value cannot be one (the caller says
which loan and which field).

* a timestamp with a time zone is a moment: its date is the date in Bogotá then; a naive timestamp is a
  wall-clock reading, its date is its own;
* a DOUBLE is read through its shortest decimal repr (``1912.75``, not ``1912.7499999999999``); money from a
  DOUBLE is rounded half-up to cents, as a NUMERIC(15,2) would have stored it;
* words are trimmed and upper-cased (``mensual``, ``MENSUAL `` → ``MENSUAL``).
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import ROUND_HALF_UP, Decimal

from cartera_pipelines.lib.dates import BOGOTA, local_date

CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal | None:
    """A finite ``Decimal`` from a NUMERIC/DECIMAL, an integer, a DOUBLE or decimal text; else ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except decimal.InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def to_money(value: object) -> Decimal | None:
    """An amount: :func:`to_decimal`, with a DOUBLE rounded half-up to cents (exact types are kept as read)."""
    amount = to_decimal(value)
    if amount is not None and isinstance(value, float):
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return amount


def to_count(value: object) -> int | None:
    """A whole number from an INTEGER, an integral NUMERIC/DOUBLE or digits; else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = to_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def to_word(value: object) -> str | None:
    """Text trimmed and upper-cased (``None`` for anything that is not text)."""
    return value.strip().upper() if isinstance(value, str) else None


def to_date(value: object) -> dt.date | None:
    """A calendar date from a DATE, a TIMESTAMP (naive: its own date), a TIMESTAMPTZ (the date in Bogotá)
    or ISO text of either; ``None`` otherwise."""
    if isinstance(value, dt.datetime):
        return value.date() if value.tzinfo is None else local_date(value, BOGOTA)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return to_date(dt.datetime.fromisoformat(text))
        except ValueError:
            return None
    return None
