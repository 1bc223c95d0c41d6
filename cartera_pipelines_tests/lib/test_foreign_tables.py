"""Tables we do not own, read as they are: DATE/TIMESTAMP/TIMESTAMPTZ, NUMERIC/DOUBLE, any text, on the
real engines; one line naming table, column and expectation when a column cannot be read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import mysql, postgresql

from cartera_pipelines.lib import foreign_tables as ft
from cartera_pipelines.lib.dates import SANTIAGO
from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines_tests import engines

# What we mean: a date, an amount, a name, a document.
MEANT = sa.Table(
    "deudas",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("vence", sa.Date),
    sa.Column("monto", sa.Numeric(15, 2)),
    sa.Column("nombre", sa.String(20)),
    sa.Column("datos", sa.JSON),
    sa.Column("creado", sa.DateTime(timezone=True)),
)
# 23:30 in Santiago on the 9th is 02:30 UTC on the 10th (summer time): a UTC date would say the 10th.
LATE_EVENING = dt.datetime(2026, 3, 9, 23, 30, tzinfo=SANTIAGO)


def _as_they_are(dialect: str, instant: bool) -> sa.Table:
    """The same table as a service created it: timestamps, DOUBLE amounts, TEXT of any length."""
    if dialect == "postgresql":
        moment: sa.types.TypeEngine = postgresql.TIMESTAMP(timezone=instant)
    elif dialect == "mysql":
        moment = mysql.TIMESTAMP() if instant else mysql.DATETIME()
    else:
        moment = sa.DateTime()
    return sa.Table(
        "deudas",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("vence", moment, nullable=True),
        sa.Column("monto", sa.Double),
        sa.Column("nombre", sa.Text),
        sa.Column("datos", sa.Text),
        sa.Column("creado", moment, nullable=True),
    )


def _stored(dialect: str, instant: bool, moment: dt.datetime) -> dt.datetime:
    if instant and dialect == "mysql":
        return moment.astimezone(dt.UTC).replace(tzinfo=None)  # written with the session at UTC
    if instant:
        return moment
    return moment.replace(tzinfo=None)  # a wall-clock reading, as a service writing now() leaves it


SHAPES = [("sqlite", False), ("postgresql", False), ("postgresql", True), ("mysql", False), ("mysql", True)]


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":  # SQLite has no instant type: its timestamps are text
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with engines.postgres_database() if request.param == "postgresql" else engines.mysql_database() as url:
        yield url


@pytest.mark.parametrize(
    "store, instant",
    SHAPES,
    indirect=["store"],
    ids=[f"{e}-{'instant' if i else 'timestamp'}" for e, i in SHAPES],
)
def test_dates_amounts_text_and_json_as_they_are(store: str, instant: bool) -> None:
    engine = create_store_engine(store)
    dialect = engine.dialect.name
    table = _as_they_are(dialect, instant)
    name = "Comercial Ñuble " + "x" * 300
    with engine.begin() as conn:
        table.create(conn)
        if dialect == "mysql":
            conn.execute(sa.text("SET time_zone = '+00:00'"))
        conn.execute(
            table.insert(),
            [
                {
                    "id": 1,
                    "vence": _stored(dialect, instant, LATE_EVENING),
                    "monto": 1000.1,
                    "nombre": name,
                    "datos": '{"nota": "cesión"}',
                    "creado": _stored(dialect, instant, LATE_EVENING),
                },
                {"id": 2, "vence": None, "monto": 0.3, "nombre": "b", "datos": "[1]", "creado": None},
            ],
        )
    with engine.connect() as conn:
        deudas = ft.ForeignTable.reflect(
            conn, MEANT, ["id", "vence", "monto", "nombre", "datos", "creado"], zone=SANTIAGO
        )
        rows = conn.execute(
            sa.select(*deudas.columns("id", "vence", "monto", "nombre", "datos", "creado")).order_by("id")
        ).all()
        # the rule "due before a day" in SQL, where the rows are
        before_10th = (
            conn.execute(sa.select(MEANT.c.id).where(deudas.before_day("vence", dt.date(2026, 3, 10))))
            .scalars()
            .all()
        )
        before_9th = (
            conn.execute(sa.select(MEANT.c.id).where(deudas.before_day("vence", dt.date(2026, 3, 9))))
            .scalars()
            .all()
        )
    engine.dispose()
    first = {key: deudas.value(key, getattr(rows[0], key), record=1) for key in rows[0]._fields}
    expected_date = dt.date(2026, 3, 9)  # Chile's date of the instant, or the date as written
    assert first["vence"] == expected_date
    assert first["monto"] == Decimal("1000.1")  # the shortest repr, not 1000.1000000000000227…
    assert first["nombre"] == name and first["datos"] == {"nota": "cesión"}
    if instant:
        assert first["creado"] == LATE_EVENING.astimezone(dt.UTC)
    else:  # a naive timestamp is taken as UTC
        assert first["creado"] == LATE_EVENING.replace(tzinfo=dt.UTC)
    assert deudas.value("vence", rows[1].vence) is None and deudas.value("monto", rows[1].monto) == Decimal(
        "0.3"
    )
    assert before_10th == [1] and before_9th == []


def test_a_missing_column_fails_in_one_line(any_store_url: str) -> None:
    engine = create_store_engine(any_store_url)
    table = sa.Table(
        "deudas", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("monto", sa.Double)
    )
    with engine.begin() as conn:
        table.create(conn)
    with engine.connect() as conn, pytest.raises(ft.ForeignColumnError) as error:
        ft.ForeignTable.reflect(conn, MEANT, ["id", "vence", "monto"], zone=SANTIAGO)
    assert str(error.value) == "deudas.vence is missing: expected a date (DATE, TIMESTAMP or TIMESTAMPTZ)"
    assert "\n" not in str(error.value)
    with engine.connect() as conn:  # an optional column may be absent
        deudas = ft.ForeignTable.reflect(conn, MEANT, ["id", "monto"], zone=SANTIAGO, optional=["vence"])
    assert deudas.has("monto") and not deudas.has("vence")
    engine.dispose()


def test_a_column_that_cannot_hold_the_value_fails_in_one_line(postgres_url: str) -> None:
    engine = create_store_engine(postgres_url)
    table = sa.Table("deudas", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("vence", sa.Boolean))
    with engine.begin() as conn:
        table.create(conn)
    with engine.connect() as conn, pytest.raises(ft.ForeignColumnError) as error:
        ft.ForeignTable.reflect(conn, MEANT, ["vence"], zone=SANTIAGO)
    engine.dispose()
    assert str(error.value) == "deudas.vence is BOOLEAN: expected a date (DATE, TIMESTAMP or TIMESTAMPTZ)"


def test_an_unreadable_value_names_table_column_record_and_value() -> None:
    deudas = ft.ForeignTable(
        MEANT, "sqlite", SANTIAGO, {"vence": ft.ForeignColumn("vence", ft.DATE, sa.Text(), False)}
    )
    with pytest.raises(ft.ForeignValueError, match=r"^deudas\.vence \(id 7\) = 'pronto' is not a date"):
        deudas.value("vence", "pronto", record=7)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (dt.date(2026, 3, 9), dt.date(2026, 3, 9)),
        (dt.datetime(2026, 3, 9, 23, 59), dt.date(2026, 3, 9)),  # wall clock: as written
        (dt.datetime(2026, 3, 10, 2, 30, tzinfo=dt.UTC), dt.date(2026, 3, 9)),  # instant: Chile's date
        ("2026-03-09", dt.date(2026, 3, 9)),
        ("2026-03-09 18:30:00.000000", dt.date(2026, 3, 9)),
        ("2026-03-10T02:30:00Z", dt.date(2026, 3, 9)),
        (1773109800, dt.date(2026, 3, 9)),  # epoch seconds of 2026-03-10 02:30 UTC (MariaDB TIMESTAMP)
    ],
)
def test_to_date(raw: object, expected: dt.date) -> None:
    assert ft.to_date(raw, SANTIAGO) == expected


@pytest.mark.parametrize("bad", [True, "abc", float("nan"), float("inf"), [1]])
def test_to_decimal_refuses(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        ft.to_decimal(bad)


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_a_double_amount_reads_back_to_the_cent(amount: Decimal) -> None:
    assert ft.to_decimal(float(amount)).quantize(Decimal("0.01")) == amount


@given(st.datetimes(timezones=st.sampled_from([dt.UTC, SANTIAGO, ZoneInfo("America/Bogota")])))
def test_an_instant_keeps_its_moment_and_gets_chile_date(moment: dt.datetime) -> None:
    assert ft.to_moment(moment).timestamp() == moment.timestamp()  # (also across a DST gap)
    assert ft.to_date(moment, SANTIAGO) == moment.astimezone(SANTIAGO).date()
