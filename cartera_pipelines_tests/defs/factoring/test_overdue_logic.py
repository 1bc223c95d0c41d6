"""Chile's calendar date decides what is overdue, not UTC's."""

import datetime as dt

import pytest

from cartera_pipelines.defs.factoring.overdue import chile_date, is_overdue, resolve_as_of

UTC = dt.UTC


@pytest.mark.parametrize(
    "moment, expected",
    [
        (dt.datetime(2026, 3, 10, 2, 0, tzinfo=UTC), dt.date(2026, 3, 9)),  # summer time, UTC-3
        (dt.datetime(2026, 3, 10, 3, 0, tzinfo=UTC), dt.date(2026, 3, 10)),
        (dt.datetime(2026, 7, 10, 3, 30, tzinfo=UTC), dt.date(2026, 7, 9)),  # winter, UTC-4
        (dt.datetime(2026, 7, 10, 4, 30, tzinfo=UTC), dt.date(2026, 7, 10)),
        (dt.datetime(2026, 3, 10, 2, 0), dt.date(2026, 3, 9)),  # naive means UTC
    ],
)
def test_chile_date(moment: dt.datetime, expected: dt.date) -> None:
    assert chile_date(moment) == expected


def test_default_as_of_is_chile_today_not_utc_today() -> None:
    late_evening_in_santiago = dt.datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    assert late_evening_in_santiago.date() == dt.date(2026, 3, 10)
    assert resolve_as_of("", now=late_evening_in_santiago) == dt.date(2026, 3, 9)
    assert resolve_as_of("2026-01-31") == dt.date(2026, 1, 31)
    with pytest.raises(ValueError, match="as_of must be a date"):
        resolve_as_of("31/01/2026")


@pytest.mark.parametrize(
    "estado, due, overdue",
    [
        ("disponible", dt.date(2026, 3, 8), True),
        ("en_proceso", dt.date(2026, 3, 8), True),
        ("disponible", dt.date(2026, 3, 9), False),  # due today is not yet overdue
        ("disponible", dt.date(2026, 3, 10), False),
        ("cedida", dt.date(2026, 1, 1), False),
        ("pagada", dt.date(2026, 1, 1), False),
        ("anulada", dt.date(2026, 1, 1), False),
        ("vencida", dt.date(2026, 1, 1), False),
    ],
)
def test_is_overdue(estado: str, due: dt.date, overdue: bool) -> None:
    assert is_overdue(estado, due, dt.date(2026, 3, 9)) is overdue
