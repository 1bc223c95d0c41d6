"""The shared mechanisms of ``lib/``: progress lines, dates, check results, Retry-After, metadata, COPY."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import dagster as dg
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.lib import bulk
from cartera_pipelines.lib.checks import offenders_check
from cartera_pipelines.lib.dates import BOGOTA, SANTIAGO, DateInputError, local_date, parse_as_of, today_in
from cartera_pipelines.lib.http import parse_retry_after
from cartera_pipelines.lib.metadata import column_schema
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.resources.database import create_store_engine

# --- progress ---------------------------------------------------------------------------------------------


def test_progress_is_throttled_and_reports_rate_and_eta() -> None:
    now = [0.0]
    lines: list[str] = []
    progress = Progress(lines.append, "arrears", total=1_000, unit="contracts", every=5, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 1
        progress.advance(50)
    assert lines == [
        "arrears: 250/1,000 contracts (25%), 50/s, ETA 15s",
        "arrears: 500/1,000 contracts (50%), 50/s, ETA 10s",
    ]
    assert progress.finish(retries=2) == "arrears: 500/1,000 contracts (50%), 50/s in 10.0s; retries 2"


def test_progress_without_a_total() -> None:
    progress = Progress(None, "pages", unit="records", clock=lambda: 2.0)
    progress.started = 0.0
    progress.update(1_234)
    assert progress.line() == "pages: 1,234 records, 617/s"


# --- dates ------------------------------------------------------------------------------------------------


def test_today_is_the_business_date_not_utc() -> None:
    # 02:30 UTC on 3 March is still 2 March in Bogotá (UTC-5) and in Santiago (UTC-3 in summer)
    moment = dt.datetime(2026, 3, 3, 2, 30, tzinfo=dt.UTC)
    assert today_in(BOGOTA, moment) == dt.date(2026, 3, 2)
    assert local_date(moment, SANTIAGO) == dt.date(2026, 3, 2)
    assert local_date(moment.replace(tzinfo=None), SANTIAGO) == dt.date(2026, 3, 2)


@pytest.mark.parametrize("bad", ["2026-13-01", "02/03/2026", "yesterday", "2026-02-30"])
def test_as_of_errors_name_the_field(bad: str) -> None:
    with pytest.raises(DateInputError, match=rf"^since={bad!r} is not a date \(YYYY-MM-DD\)$"):
        parse_as_of(bad, BOGOTA, field="since")


def test_as_of_empty_means_today_there() -> None:
    moment = dt.datetime(2026, 3, 3, 2, 30, tzinfo=dt.UTC)
    assert parse_as_of("", BOGOTA, now=moment) == dt.date(2026, 3, 2)
    assert parse_as_of(" 2026-01-31 ", BOGOTA) == dt.date(2026, 1, 31)


# --- Retry-After ------------------------------------------------------------------------------------------


def test_retry_after_seconds_and_http_dates() -> None:
    now = dt.datetime(2026, 10, 21, 7, 27, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now) == 0.0  # already past
    assert parse_retry_after("-3") == 0.0
    for junk in (None, "", "soon", "inf", "nan"):
        assert parse_retry_after(junk) is None


@given(st.text())
def test_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value)
    assert result is None or result >= 0


# --- checks -----------------------------------------------------------------------------------------------


def test_offenders_check_counts_and_samples(sqlite_url: str) -> None:
    metadata = sa.MetaData()
    loans = sa.Table(
        "loans", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("bad", sa.Boolean)
    )
    engine = create_store_engine(sqlite_url)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(loans.insert(), [{"id": i, "bad": i % 3 == 0} for i in range(1, 61)])
        failing = offenders_check(
            conn, sa.select(loans.c.id).where(loans.c.bad), "loans that are bad", sample=5
        )
        passing = offenders_check(conn, sa.select(loans.c.id).where(loans.c.id > 100), "loans that are bad")
    assert not failing.passed and failing.description == "20 loans that are bad"
    assert failing.metadata["offenders"].value == 20
    assert "| 3 |" in failing.metadata["sample"].value and "| 18 |" not in failing.metadata["sample"].value
    assert passing.passed and passing.severity == dg.AssetCheckSeverity.ERROR
    engine.dispose()


# --- metadata ---------------------------------------------------------------------------------------------


def test_column_schema_unique_only_for_single_column_keys() -> None:
    metadata = sa.MetaData()
    composite = sa.Table(
        "forecasts",
        metadata,
        sa.Column("nit", sa.String(10), primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("qty", sa.Numeric(18, 4), comment=">= 0, units"),
        sa.Column("code", sa.String(10), unique=True),
    )
    single = sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True))
    columns = {c.name: c for c in column_schema(composite).columns}
    assert not columns["nit"].constraints.unique and not columns["month"].constraints.unique
    assert columns["code"].constraints.unique
    assert columns["qty"].description == "\\>= 0, units"
    assert column_schema(composite).constraints.other == ["primary key (nit, month)"]
    assert column_schema(single).columns[0].constraints.unique


# --- COPY stream ------------------------------------------------------------------------------------------

HOSTILE = ["Ñandú, S.A.S.", 'comillas "dobles"', "tab\there", "línea\nnueva", "\\N literal?", "", "€ 12"]


@pytest.mark.parametrize("null", [bulk.NULL, ""])
def test_copy_stream_round_trips_hostile_text(postgres_url: str, null: str) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "copied",
        metadata,
        sa.Column("id", sa.Integer),
        sa.Column("name", sa.Text),
        sa.Column("amount", sa.Numeric(15, 2)),
        sa.Column("day", sa.Date),
    )
    engine = create_store_engine(postgres_url)
    rows = [(i, text, Decimal("1234567.89") * i, dt.date(2026, 1, 1 + i)) for i, text in enumerate(HOSTILE)]
    rows.append((99, None, None, None))
    with engine.begin() as conn:
        metadata.create_all(conn)
        if null == bulk.NULL:
            assert bulk.copy_rows(conn, table, rows, ["id", "name", "amount", "day"]) == len(rows)
        else:  # the hot-path form: plain values through csv.writer, None as the empty field
            pieces = bulk.csv_pieces(rows, rows_per_piece=3)
            bulk.copy_stream(conn, "copied", ["id", "name", "amount", "day"], pieces, null="")
        stored = conn.execute(sa.select(table).order_by(table.c.id)).all()
    engine.dispose()
    expected = [tuple(r) for r in rows]
    if null == "":  # the empty string and NULL are one value in this form
        expected = [(i, None if t == "" else t, a, d) for i, t, a, d in expected]
    assert [tuple(r) for r in stored] == expected


class _BadRecord(ValueError):
    pass


def test_a_record_that_fails_mid_copy_raises_its_own_error(postgres_url: str) -> None:
    """psycopg2 reports an error raised while it reads the stream as its own QueryCanceled ("error in
    .read() call", with COPY's "line 1" context); the caller gets the producer's error, its one line."""

    def pieces():
        yield "1\tuno\n" * 5000
        raise _BadRecord("DEKARDEX line 7 (KARDEX 3) has no CANMAT")

    engine = create_store_engine(postgres_url)
    try:
        with pytest.raises(_BadRecord, match=r"^DEKARDEX line 7 \(KARDEX 3\) has no CANMAT$"):
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE copied (id integer, name text)"))
                bulk.copy_stream(conn, "copied", ["id", "name"], pieces())
        with engine.connect() as conn:  # the transaction rolled back: not even the table is there
            assert not sa.inspect(conn).has_table("copied")
    finally:
        engine.dispose()


def test_copy_stream_is_lazy() -> None:
    pulled: list[int] = []

    def pieces():
        for k in range(1000):
            pulled.append(k)
            yield "x" * 1000 + "\n"

    stream = bulk._Stream(pieces())
    first = stream.read(1 << 16)
    assert len(first) == 1 << 16 and len(pulled) < 70


def test_markdown_table_cuts_long_text_at_the_width_asked() -> None:
    from cartera_pipelines.lib.metadata import markdown_table

    row = {"id": 1, "why": "x" * 100}
    assert "x" * 57 + "…" in markdown_table([row]) and "x" * 58 not in markdown_table([row])
    assert "x" * 100 in markdown_table([row], width=200)


def test_background_commits_keep_each_batch_one_transaction(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches commit in order on the writer thread; when one fails, it and every batch after it roll
    back, the ones before stay, and the failure reaches the caller."""
    engine = create_store_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE lotes (lote int NOT NULL, fila int NOT NULL)"))
    real_copy = bulk.copy_text

    def copy_failing_on_batch_3(conn: sa.Connection, target: str, columns: list[str], text: str) -> None:
        real_copy(conn, target, columns, text)
        if text.startswith("3\t"):
            raise RuntimeError("connection lost in batch 3")

    monkeypatch.setattr(bulk, "copy_text", copy_failing_on_batch_3)
    submitted = []
    with pytest.raises(RuntimeError, match="batch 3"):
        with bulk.BackgroundCommits() as commits:
            for batch in range(1, 7):
                conn = engine.connect()
                transaction = conn.begin()
                commits.submit(conn, transaction, "lotes", ["lote", "fila"], f"{batch}\t1\n{batch}\t2\n")
                submitted.append(batch)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT lote, count(*) FROM lotes GROUP BY lote ORDER BY lote")).all()
    assert [tuple(row) for row in stored] == [(1, 2), (2, 2)]
    assert submitted == [1, 2, 3]  # batch 4 was prepared, then abandoned when 3's failure surfaced
    assert engine.pool.checkedout() == 0  # every connection went back
    engine.dispose()
