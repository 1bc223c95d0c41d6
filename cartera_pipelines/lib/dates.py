"""Dates in the businesses' time zones, and the ``as_of`` dates run config carries.

Each business runs on its own calendar: collections and loans on Bogotá's, factoring on Santiago's,
Contifico on Guayaquil's. "Today" is always today *there*, never the server's or UTC's date.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BOGOTA = ZoneInfo("America/Bogota")
SANTIAGO = ZoneInfo("America/Santiago")
GUAYAQUIL = ZoneInfo("America/Guayaquil")


class DateInputError(ValueError):
    """A date given as input (run config, tags) that is not a ``YYYY-MM-DD`` date; names the field."""


def utcnow() -> dt.datetime:
    """Now, timezone-aware in UTC (what every ``*_at`` column stores)."""
    return dt.datetime.now(dt.UTC)


def local_date(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The calendar date in ``zone`` at ``moment`` (aware; a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).date()


def today_in(zone: ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    return local_date(now or utcnow(), zone)


def parse_date(value: str, field: str) -> dt.date:
    """``YYYY-MM-DD`` → date; anything else raises :class:`DateInputError` naming ``field``."""
    try:
        return dt.date.fromisoformat(value.strip())
    except (ValueError, AttributeError, TypeError):
        raise DateInputError(f"{field}={value!r} is not a date (YYYY-MM-DD)") from None


def parse_as_of(
    value: str | None, zone: ZoneInfo, *, field: str = "as_of", now: dt.datetime | None = None
) -> dt.date:
    """Run config ``as_of``: a ``YYYY-MM-DD`` date, or today in ``zone`` when empty."""
    if value is None or not str(value).strip():
        return today_in(zone, now)
    return parse_date(str(value), field)
