"""Values from tables we do not own, normalised in one place; reports that accept what was read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from cartera_pipelines.defs.collections import normalize, reports
from cartera_pipelines.defs.collections.assignment import AssignmentRules, Holding, plan_assignment
from cartera_pipelines.defs.collections.normalize import Kind
from cartera_pipelines.defs.collections.sql import FixedManagement
from cartera_pipelines.lib.dates import BOGOTA

DAY = dt.date(2026, 12, 2)
UTC = dt.UTC


@pytest.mark.parametrize(
    "value",
    [
        DAY,
        dt.datetime(2026, 12, 2, 11, 10, 43),  # TIMESTAMP: naive, Bogotá's wall time
        "2026-12-02 11:10:43",  # the value, as SQLite hands it back
        "2026-12-02",
        "2026-12-02T11:10:43.123456",
        "2026-12-02 00:00:00-05:00",
        dt.datetime(2026, 12, 3, 3, 0, tzinfo=UTC),  # TIMESTAMPTZ: 22:00 on the 2nd in Bogotá
        "2026-12-03 03:00:00+00:00",
        b"2026-12-02",
    ],
)
def test_every_form_of_a_day_is_that_day_in_bogota(value: object) -> None:
    assert normalize.to_date(value) == DAY


@pytest.mark.parametrize("value", [None, "", "n/a", "02/12/2026", 20261202, "0000-00-00"])
def test_what_is_not_a_date_is_unreadable(value: object) -> None:
    assert normalize.to_date(value) is None and normalize.to_local(value) is None


def test_local_wall_time_never_shifts_a_naive_moment_and_converts_an_aware_one() -> None:
    naive = dt.datetime(2026, 12, 2, 11, 10, 43)
    assert normalize.to_local(naive) == naive
    assert normalize.to_local(dt.datetime(2026, 12, 2, 16, 10, 43, tzinfo=UTC)) == naive
    assert normalize.to_local("2026-12-02 16:10:43+00:00") == naive
    assert normalize.to_local(DAY) == DAY


@given(
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC))
)
def test_an_aware_moment_falls_on_its_bogota_day(moment: dt.datetime) -> None:
    assert normalize.to_date(moment) == moment.astimezone(BOGOTA).date()
    assert normalize.to_date(moment.isoformat(" ")) == moment.astimezone(BOGOTA).date()


@pytest.mark.parametrize(
    ("kind", "dialect", "expected"),
    [
        (Kind.DATE, "postgresql", DAY),
        (Kind.TIMESTAMP, "mysql", dt.datetime(2026, 12, 2)),
        (Kind.TIMESTAMPTZ, "postgresql", dt.datetime(2026, 12, 2, tzinfo=BOGOTA)),
        (Kind.DATE, "sqlite", "2026-12-02"),
        (Kind.TIMESTAMP, "sqlite", "2026-12-02 00:00:00"),
        (Kind.TEXT, "sqlite", "2026-12-02"),
    ],
)
def test_a_day_is_written_in_the_columns_own_type(kind: Kind, dialect: str, expected: object) -> None:
    written = normalize.day_value(kind, dialect, DAY)
    assert written == expected
    assert normalize.to_date(written) == DAY  # and reads back as the same day


@given(st.datetimes(min_value=dt.datetime(2026, 11, 30), max_value=dt.datetime(2026, 12, 4)))
def test_on_sqlite_before_the_day_is_a_text_comparison_that_ignores_the_written_form(
    moment: dt.datetime,
) -> None:
    bound = normalize.day_bound(Kind.TIMESTAMP, "sqlite", DAY)
    for text in (moment.isoformat(" "), moment.isoformat(), moment.date().isoformat()):
        assert (text < bound) == (moment.date() < DAY), text


@pytest.mark.parametrize(
    ("column_type", "expectation", "dialect", "accepted"),
    [
        (sa.TIMESTAMP(timezone=True), "date", "postgresql", True),
        (sa.DATETIME(), "date", "mysql", True),
        (sa.Text(), "date", "postgresql", False),
        (sa.Text(), "date", "sqlite", True),  # SQLite keeps dates as text
        (sa.Integer(), "date", "sqlite", False),
        (sa.Double(), "number", "postgresql", True),
        (sa.Numeric(20, 0), "integer", "mysql", True),
        (sa.String(20), "text", "mysql", True),
        (sa.LargeBinary(), "text", "postgresql", False),
    ],
)
def test_which_column_types_we_read(column_type, expectation: str, dialect: str, accepted: bool) -> None:
    assert normalize.accepts(expectation, normalize.kind_of(column_type), dialect) is accepted


def test_complaints_are_one_line_each_then_a_count() -> None:
    lines: list[str] = []
    complaints = normalize.Complaints(lines.append, limit=2)
    for i in range(5):
        complaints.add(f"bad {i}")
    complaints.finish("operations table x, column y")
    assert lines == [
        "bad 0",
        "bad 1",
        "operations table x, column y: 5 unreadable values in all (3 not shown)",
    ]


def test_the_excel_report_takes_aware_management_dates_as_bogota_wall_time(tmp_path: Path) -> None:
    plan = plan_assignment(
        as_of=DAY,
        arrears={1: 100, 2: 30, 3: 0},
        holdings=[Holding(1, 45, DAY)],
        fixed={1: 45, 2: 81, 3: 81},
        rules=AssignmentRules(),
    )
    fixed = {
        1: FixedManagement(45, dt.datetime(2026, 12, 1, 16, 10, 43, tzinfo=UTC)),  # a TIMESTAMPTZ read as is
        2: FixedManagement(81, dt.datetime(2026, 11, 30, 9, 0)),
        3: FixedManagement(81, None),  # unreadable: an empty cell
    }
    files = reports.write_reports(
        plan,
        tmp_path,
        fixed=fixed,
        facts={"as_of": DAY, "moment": dt.datetime(2026, 12, 2, 12, tzinfo=UTC)},
        plot=False,
    )
    book = load_workbook(files.excel, read_only=True)
    dates = {
        row[0]: row[4] for row in book["Contratos Fijos"].iter_rows(min_row=2, max_col=5, values_only=True)
    }
    assert dates == {1: dt.datetime(2026, 12, 1, 11, 10, 43), 2: dt.datetime(2026, 11, 30, 9, 0), 3: None}
    facts = dict(book["Metadata"].iter_rows(min_row=2, values_only=True))
    assert facts["moment"] == dt.datetime(2026, 12, 2, 7, 0)
