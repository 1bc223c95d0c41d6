"""What real ERP operations do around an extraction (#16), on the real Firebird 3 server: a company-year
that moves between servers, one NIT spelled two ways, DOUBLE PRECISION columns, a writer that fails
under Dagster's signal handlers, a document posted while a long read runs, a server that hangs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._utils.interrupts import capture_interrupts

from cartera_pipelines.defs.tns import assets as tns_assets
from cartera_pipelines.defs.tns import checks as tns_checks
from cartera_pipelines.defs.tns.automation import tns_companies_sensor, tns_discover_job, tns_extract_job
from cartera_pipelines.defs.tns.concurrency import SERVER_TAG
from cartera_pipelines.defs.tns.extract import SourceReadError, extract_into, source_chunks
from cartera_pipelines.defs.tns.movements import CompanyContext, ExtractPlan
from cartera_pipelines.defs.tns.tables import tns_inventory_movements
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.tns import TnsServer

from .conftest import ephemeral_instance, step_error
from .erp import Erp, Line

COMPANY = CompanyContext("800197268_2025", "800197268", 2025, "001", dt.datetime(2025, 6, 1, tzinfo=dt.UTC))

MOVEMENTS = tns_inventory_movements


def _children() -> set[int]:
    """Processes whose parent is this one (zombies included: a child not reaped counts). Other tests of
    the session may have left children of their own: compare before and after."""
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                found.add(int(entry.name))
    return found


def _resources(erp: Erp, warehouse: SqlDatabase) -> dict[str, object]:
    return {"tns": erp.source(), "warehouse_db": warehouse}


def _slice(warehouse: SqlDatabase, key: str) -> list[dict]:
    with warehouse.connect() as conn:
        rows = conn.execute(
            sa.select(MOVEMENTS).where(MOVEMENTS.c.company_year == key).order_by(MOVEMENTS.c.dekardex_id)
        ).mappings()
        return [{k: v for k, v in r.items() if k != "extracted_at"} for r in rows]


def _lines(first: int, n: int, **kwargs: object) -> list[Line]:
    return [Line(dekardex_id=i, kardex_id=i, **kwargs) for i in range(first, first + n)]


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_moved_company_year_sensor_discovery_then_extraction_of_the_new_file(
    erp_firebird: Erp, warehouse: SqlDatabase
) -> None:
    erp = erp_firebird
    uno, dos = erp.servers
    key = "900123456_2025"
    old = erp.company_year(uno, "ANDINA_2025", _lines(1, 3))
    erp.empresas(uno, [("001", "Distribuidora Andina S.A.S.", "900.123.456-8", 2025, old)])
    erp.empresas(dos, [])
    erp.write_servers_file()
    resources = _resources(erp, warehouse)

    def tick(cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            return tns_companies_sensor(context)

    def run(request: dg.RunRequest) -> dg.ExecuteInJobResult:
        selection = (
            [tns_assets.tns_companies] if request.job_name == tns_discover_job.name else [MOVEMENTS_ASSET]
        )
        return dg.materialize(
            selection, instance=instance, partition_key=request.partition_key, resources=resources
        )

    MOVEMENTS_ASSET = tns_assets.tns_inventory_movements
    with ephemeral_instance() as instance:
        first = tick(None)
        assert isinstance(first, dg.SensorResult)
        for request in first.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        for request in sorted(first.run_requests, key=lambda r: r.job_name != tns_discover_job.name):
            assert run(request).success
        assert len(_slice(warehouse, key)) == 3

        # The accountant moves the company-year to the second server, in a new file with more lines.
        new = erp.company_year(dos, "ANDINA_2025_NUEVO", _lines(1, 5))
        erp.empresas(uno, [])
        erp.empresas(dos, [("007", "Distribuidora Andina S.A.S.", "900123456-8", 2025, new)])

        moved = tick(first.cursor)
        assert isinstance(moved, dg.SensorResult)
        # discovery first: tns_companies still says the old file, so no extraction is requested yet
        assert [r.job_name for r in moved.run_requests] == [tns_discover_job.name]
        assert run(moved.run_requests[0]).success
        waiting = tick(moved.cursor)
        assert isinstance(waiting, dg.SensorResult)
        [extract] = waiting.run_requests
        assert (extract.job_name, extract.partition_key, extract.tags[SERVER_TAG]) == (
            tns_extract_job.name,
            key,
            dos,
        )
        result = run(extract)
        assert result.success
        assert [r["dekardex_id"] for r in _slice(warehouse, key)] == [1, 2, 3, 4, 5]
        meta = result.get_asset_materialization_events()[0].materialization.metadata
        assert meta["server"].value == dos and meta["archivo"].value == new
        assert isinstance(tick(waiting.cursor), dg.SkipReason)

        # It moves again and nobody has run discovery: the extraction refuses, in one line.
        erp.empresas(dos, [])
        erp.empresas(uno, [("001", "Distribuidora Andina S.A.S.", "900.123.456-8", 2025, old)])
        failed = dg.materialize(
            [MOVEMENTS_ASSET], instance=instance, partition_key=key, resources=resources, raise_on_error=False
        )
        message = step_error(failed)
        assert "moved" in message and new in message and old in message and "\n" not in message
        assert len(_slice(warehouse, key)) == 5


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_one_nit_spelled_two_ways_on_two_servers(erp_firebird: Erp, warehouse: SqlDatabase) -> None:
    erp = erp_firebird
    uno, dos = erp.servers
    erp.empresas(
        uno,
        [
            ("001", "Distribuidora Andina S.A.S.", "900.123.456-8", 2024, "/x/ANDINA_2024.FDB"),
            ("002", "Empresa de prueba", "0", 2024, "/x/PRUEBA.FDB"),
        ],
    )
    erp.empresas(
        dos,
        [
            ("001", "DISTRIBUIDORA ANDINA SAS", "NIT 900123456", 2025, "/y/ANDINA_2025.FDB"),
            ("002", "Distribuidora Andina (otra ficha)", "9001234568", 2026, "/y/ANDINA_2026.FDB"),
        ],
    )
    erp.write_servers_file()
    with ephemeral_instance() as instance:
        result = dg.materialize(
            [tns_assets.tns_companies, tns_checks.nit_possible_duplicates],
            instance=instance,
            resources=_resources(erp, warehouse),
        )
        assert sorted(instance.get_dynamic_partitions("tns_nits")) == ["900123456", "9001234568"]
        assert set(instance.get_dynamic_partitions("tns_company_years")) == {
            "900123456_2024",
            "900123456_2025",
            "9001234568_2026",
        }
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["rejected_rows"].value == 1 and "6 to 10 digits" in meta["rejected_detail"].value
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    sample = check.metadata["sample"].value
    assert "9001234568" in sample and "900.123.456-8" in sample and "NIT 900123456" in sample


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_double_precision_columns_round_like_numeric_on_every_path(
    erp_firebird: Erp, warehouse: SqlDatabase
) -> None:
    """DOUBLE PRECISION quantities and money: the decimal the server prints, rounded half-up (quantities to
    4 places, money to cents), whether the rows go through COPY (PostgreSQL) or typed inserts (SQLite)."""
    erp = erp_firebird
    uno, dos = erp.servers
    lines = [
        Line(1, 1, quantity=2.00005, price=1.23455, total=10.005),
        Line(2, 2, code="DV", quantity=0.1, price=3.0, total=2.675, third_party=2),
        Line(3, 3, code="FC", quantity=1e-05, price=1.5, total=-0.125),
    ]
    archivo = erp.company_year(uno, "DOBLE_2025", lines, double=True)
    erp.empresas(uno, [("001", "Doble Precisión S.A.S.", "800197268-4", 2025, archivo)])
    erp.empresas(dos, [])
    erp.write_servers_file()
    with ephemeral_instance() as instance:
        instance.add_dynamic_partitions("tns_company_years", ["800197268_2025"])
        assert dg.materialize(
            [tns_assets.tns_inventory_movements],
            instance=instance,
            partition_key="800197268_2025",
            resources=_resources(erp, warehouse),
        ).success
    rows = _slice(warehouse, "800197268_2025")
    assert [(r["quantity"], r["unit_price_base"], r["line_total"]) for r in rows] == [
        (Decimal("2.0001"), Decimal("1.2346"), Decimal("10.01")),
        (Decimal("0.1000"), Decimal("3.0000"), Decimal("2.68")),
        (Decimal("0.0000"), Decimal("1.5000"), Decimal("-0.13")),
    ]
    assert rows[1]["third_party_nit"] == "NIT 900.123.456-8 SUCURSAL 001"  # 30 characters, as the source


HOSTILE = {
    "article": 'Tornillo 1/4" x 2" \\N; "galvanizado"\tcaja\r\n100 und — ñandú €',
    "warehouse": "  Bodega\\Norte ",
    "party": 'Pérez "El Mono"\t& Cía.\n',
    "number": " 0042 ",
}


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_server_formatted_lines_load_what_a_typed_read_gives(
    erp_firebird: Erp, warehouse: SqlDatabase
) -> None:
    """The server formats each line (one text column: fdb decodes column by column in Python, about twice
    as slow); whatever the text holds (quotes, tabs, line breaks, backslashes, \\N, WIN1252 letters,
    padding, nothing), the slice equals the typed reading's, on COPY (PostgreSQL) and typed inserts
    (SQLite); unknown codes are counted the same."""
    from cartera_pipelines.defs.tns.extract import read_chunks
    from cartera_pipelines.defs.tns.movements import make_converter
    from cartera_pipelines.defs.tns.sql import insert_movements

    erp = erp_firebird
    uno, _ = erp.servers
    lines = [
        Line(1, 1, quantity=Decimal("2.5"), price=Decimal("1234.5678"), total=Decimal("10.01")),
        Line(2, 2, code="NC"),  # a code we do not load: counted, skipped
        Line(3, 2, code="NC"),
        Line(4, 3, code="DV", quantity=Decimal("-0.0001"), third_party=2, total=Decimal("-99999999.99")),
        Line(5, 4, code="RE", quantity=Decimal("0"), price=Decimal("0"), total=Decimal("0")),
    ]
    archivo = erp.company_year(uno, "HOSTIL_2025", lines)
    writer = erp.connect(uno, archivo)
    try:
        cursor = writer.cursor()
        cursor.execute("UPDATE MATERIAL SET DESCRIP = ? WHERE MATID = 1", (HOSTILE["article"],))
        cursor.execute("UPDATE BODEGA SET NOMBRE = ? WHERE BODID = 1", (HOSTILE["warehouse"],))
        cursor.execute("UPDATE TERCEROS SET NOMBRE = ? WHERE TERID = 1", (HOSTILE["party"],))
        cursor.execute("UPDATE TERCEROS SET NOMBRE = '   ' WHERE TERID = 2")
        cursor.execute(
            "UPDATE KARDEX SET NUMERO = ?, CODPREFIJO = NULL WHERE KARDEXID = 1", (HOSTILE["number"],)
        )
        cursor.execute("UPDATE DEKARDEX SET PRECIOIVA = NULL, PARCVTA = NULL WHERE DEKARDEXID = 5")
        writer.commit()
    finally:
        writer.close()
    erp.write_servers_file()
    source = erp.source()
    server = source.server(uno)
    ensure_schema(warehouse)
    with (
        source_chunks(source, server, archivo, ExtractPlan(), COMPANY, fetch_size=2) as chunks,
        warehouse.begin() as conn,
    ):
        stats = extract_into(conn, chunks, COMPANY, ExtractPlan())
    loaded = _slice(warehouse, COMPANY.company_year)

    unknown: Counter[str] = Counter()
    convert = make_converter(COMPANY, unknown)
    with source.connect(server, archivo) as fb:
        typed = [
            row for chunk in read_chunks(fb, "firebird", ExtractPlan(), 100) for row in map(convert, chunk)
        ]
    with warehouse.begin() as conn:
        conn.execute(MOVEMENTS.delete())
        insert_movements(conn, [[row for row in typed if row is not None]], MOVEMENTS)
    expected = _slice(warehouse, COMPANY.company_year)

    assert loaded == expected and len(loaded) == 3
    assert stats.unknown_codes == unknown == Counter({"NC": 2}) and stats.lines_read == 5
    first, _, last = loaded
    assert first["article_name"] == HOSTILE["article"] and first["number"] == "0042"
    assert first["warehouse_name"] == "Bodega\\Norte" and first["prefix"] is None
    assert first["third_party_name"] == HOSTILE["party"]  # TRIM takes blanks only, as TNS does
    assert loaded[1]["third_party_name"] is None
    assert last["unit_price_tax"] is None and last["line_total"] == Decimal("0.00")


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_timestamp_dates_late_in_the_day_are_their_day_on_the_server_formatted_path(
    erp_firebird: Erp, warehouse: SqlDatabase
) -> None:
    """TNS versions where KARDEX.FECHA is a TIMESTAMP: a document at 23:45 belongs to its day, in the
    whole partition and at the edge of a date range (the server formats the date and filters by it)."""
    erp = erp_firebird
    uno, _ = erp.servers
    jan, feb = dt.date(2025, 1, 31), dt.date(2025, 2, 28)
    lines = [Line(1, 1, date=jan), Line(2, 2, date=feb), Line(3, 3, date=dt.date(2025, 3, 1))]
    archivo = erp.company_year(uno, "HORA_2025", lines, at=dt.time(23, 45))
    erp.write_servers_file()
    source = erp.source()
    server = source.server(uno)
    ensure_schema(warehouse)

    def extract(plan: ExtractPlan) -> int:
        with (
            source_chunks(source, server, archivo, plan, COMPANY, fetch_size=2) as chunks,
            warehouse.begin() as conn,
        ):
            return extract_into(conn, chunks, COMPANY, plan).lines_read

    assert extract(ExtractPlan()) == 3
    dates = {r["dekardex_id"]: r["movement_date"] for r in _slice(warehouse, COMPANY.company_year)}
    assert dates == {1: jan, 2: feb, 3: dt.date(2025, 3, 1)}
    assert extract(ExtractPlan(date_from=dt.date(2025, 2, 1), date_to=feb)) == 1  # 23:45 on the last day


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (
            "UPDATE DEKARDEX SET CANMAT = NULL WHERE DEKARDEXID = 4",
            "DEKARDEX line 4 (KARDEX 4) has no CANMAT",
        ),
        ("UPDATE KARDEX SET FECHA = NULL WHERE KARDEXID = 4", "KARDEX 4 (line 4) has no FECHA"),
    ],
)
@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_a_null_the_schema_allows_fails_the_partition_naming_the_line_as_a_typed_read_does(
    erp_firebird: Erp, warehouse: SqlDatabase, statement: str, named: str
) -> None:
    """Real TNS schemas leave CANMAT and FECHA nullable (ours says NOT NULL). The server flags such a line
    among loadable and unknown-code ones in the same fetch; the run fails naming it exactly as a typed read
    does, and the slice loaded before stays as it was."""
    from cartera_pipelines.defs.tns.extract import read_chunks
    from cartera_pipelines.defs.tns.movements import MovementError, make_converter

    erp = erp_firebird
    uno, _ = erp.servers
    lines = [Line(1, 1), Line(2, 2, code="NC"), Line(3, 3), Line(4, 4), Line(5, 5)]
    archivo = erp.company_year(uno, "NULOS_2025", lines)
    erp.write_servers_file()
    source = erp.source()
    server = source.server(uno)
    ensure_schema(warehouse)

    def extract() -> None:
        with (
            source_chunks(source, server, archivo, ExtractPlan(), COMPANY, fetch_size=5) as chunks,
            warehouse.begin() as conn,
        ):
            extract_into(conn, chunks, COMPANY, ExtractPlan())

    extract()
    before = _slice(warehouse, COMPANY.company_year)
    writer = erp.connect(uno, archivo)
    try:
        cursor = writer.cursor()
        for table, column in (("DEKARDEX", "CANMAT"), ("KARDEX", "FECHA")):
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL")
        writer.commit()
        cursor = writer.cursor()
        cursor.execute(statement)
        writer.commit()
    finally:
        writer.close()

    with pytest.raises(MovementError) as failed:
        extract()
    convert = make_converter(COMPANY, Counter())
    with source.connect(server, archivo) as fb, pytest.raises(MovementError) as typed:
        for chunk in read_chunks(fb, "firebird", ExtractPlan(), 100):
            list(map(convert, chunk))
    assert str(failed.value) == str(typed.value) and named in str(failed.value)
    assert _slice(warehouse, COMPANY.company_year) == before and len(before) == 4


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_writer_failure_under_dagsters_signal_handlers_leaves_no_child_and_fails_fast(
    erp_firebird: Erp, warehouse: SqlDatabase
) -> None:
    erp = erp_firebird
    uno, _ = erp.servers
    # line 3 points at an article missing from MATERIAL: the writer fails on the first chunk, while the
    # reader process still has thousands of lines to hand over
    lines = [*_lines(1, 2), Line(3, 3, matid=99), *_lines(4, 4000)]
    archivo = erp.company_year(uno, "FALLA_2025", lines)
    erp.empresas(uno, [("001", "Falla S.A.S.", "800197268-4", 2025, archivo)])
    erp.write_servers_file()
    source = erp.source()
    server = source.server(uno)
    company = CompanyContext("800197268_2025", "800197268", 2025, "001", dt.datetime.now(dt.UTC))
    ensure_schema(warehouse)
    before = _children()
    with capture_interrupts():  # what a Dagster run worker installs: SIGTERM only sets a flag
        started = time.monotonic()
        with pytest.raises(Exception, match="MATID 99"):
            with (
                source_chunks(
                    source, server, archivo, ExtractPlan(), company, fetch_size=50, depth=1
                ) as chunks,
                warehouse.begin() as conn,
            ):
                extract_into(conn, chunks, company, ExtractPlan())
        elapsed = time.monotonic() - started
    assert _children() <= before
    assert elapsed < 2.0


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung Firebird server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_hung_read_is_bounded_by_the_overall_timeout(firebird, black_hole: int) -> None:
    from cartera_pipelines.resources.tns import TnsSource

    server = TnsServer(name="colgado", driver="firebird", admin_path="/x/ADMIN.FDB", port=black_hole)
    source = TnsSource(servers_file="")
    before = _children()
    started = time.monotonic()
    with pytest.raises(SourceReadError, match="1.5 ?s"):
        with source_chunks(
            source, server, "/x/EMPRESA.FDB", ExtractPlan(), COMPANY, fetch_size=100, timeout=1.5
        ) as chunks:
            list(chunks)
    assert time.monotonic() - started < 4.0
    assert _children() <= before


def test_a_document_posted_or_voided_during_a_long_read_is_not_seen(erp_firebird: Erp) -> None:
    """The read is one snapshot: what others commit while it runs is not part of it."""
    erp = erp_firebird
    uno, _ = erp.servers
    archivo = erp.company_year(uno, "LARGA_2025", _lines(1, 3000))
    erp.empresas(uno, [("001", "Larga S.A.S.", "800197268-4", 2025, archivo)])
    erp.write_servers_file()
    source = erp.source()
    writer = erp.connect(uno, archivo)
    read: list[int] = []
    try:
        with source_chunks(
            source, source.server(uno), archivo, ExtractPlan(), COMPANY, fetch_size=100, depth=1
        ) as chunks:
            for n, chunk in enumerate(chunks):
                if n == 1:
                    cursor = writer.cursor()
                    cursor.execute(
                        "INSERT INTO KARDEX (KARDEXID, CODCOMP, CODPREFIJO, NUMERO, FECHA, CLIENTE, FECASENTAD) "
                        "VALUES (9001, 'FV', 'FE', '9001', '2025-06-01', 1, '2025-06-01')"
                    )
                    cursor.execute(
                        "INSERT INTO DEKARDEX (DEKARDEXID, KARDEXID, MATID, BODID, CANMAT, PRECIOBASE, PRECIOIVA, "
                        "PRECIONETO, PARCVTA, DESCUENTO) VALUES (9001, 9001, 1, 1, 1, 1, 0, 1, 1, 0)"
                    )
                    cursor.execute("UPDATE KARDEX SET FECANULADO = '2025-06-02' WHERE KARDEXID = 2999")
                    writer.commit()
                read += [int(record[5]) for record in csv.reader(io.StringIO(chunk.text), delimiter="\t")]
    finally:
        writer.close()
    assert 9001 not in read  # posted meanwhile: not in this read
    assert 2999 in read  # voided meanwhile: still in this read, as it was when the read began
    assert len(read) == 3000
