"""Pure logic: dates, amounts, hashes, page shapes, typed rows, sync planning."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.contifico.catalog import CATALOG, RESOURCES
from cartera_pipelines.defs.contifico.parsing import (
    PayloadError,
    RecordError,
    content_hash,
    error_message,
    is_page_out_of_range,
    page_records,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_page,
    typed_row,
)
from cartera_pipelines.defs.contifico.plan import plan_sync


def test_catalog_has_the_17_resources_of_the_design() -> None:
    assert len(CATALOG) == 17
    assert {r.display_endpoint for r in CATALOG} == {
        "categoria/",
        "marca/",
        "variante/",
        "producto/",
        "bodega/",
        "movimiento-inventario/",
        "inventario/guia/",
        "registro/documento/?tipo_registro=PRO",
        "registro/documento/?tipo_registro=CLI",
        "documento/",
        "registro/transaccion/",
        "persona/",
        "contabilidad/centro-costo/",
        "contabilidad/cuenta-contable/",
        "contabilidad/asiento/",
        "banco/cuenta/",
        "banco/movimiento/",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/02/2025", dt.date(2025, 2, 1)),
        ("31/12/2024", dt.date(2024, 12, 31)),
        ("", None),
        (None, None),
        ("05/06/2025 10:11:12", dt.date(2025, 6, 5)),
    ],
)
def test_parse_date(text: str | None, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2025-02-01", "32/01/2025", "1/2", 20250201])
def test_parse_date_rejects_other_formats(text: object) -> None:
    with pytest.raises(RecordError, match="dd/mm/yyyy"):
        parse_date(text)


def test_parse_datetime_keeps_the_time() -> None:
    assert parse_datetime("05/06/2025 10:11:12") == dt.datetime(2025, 6, 5, 10, 11, 12)
    assert parse_datetime("05/06/2025") == dt.datetime(2025, 6, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.50", Decimal("12.50")),
        ("-3", Decimal(-3)),
        (" 0.000001 ", Decimal("0.000001")),
        (7, Decimal(7)),
        ("", None),
        (None, None),
    ],
)
def test_parse_decimal(text: object, expected: Decimal | None) -> None:
    assert parse_decimal(text) == expected


@pytest.mark.parametrize("value", ["12,50", "abc", "NaN", "Infinity", 1.5, True, [1]])
def test_parse_decimal_rejects_non_decimals_and_floats(value: object) -> None:
    with pytest.raises(RecordError):
        parse_decimal(value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12))
def test_decimal_strings_round_trip_exactly(value: Decimal) -> None:
    assert parse_decimal(str(value)) == value


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8), st.one_of(st.text(), st.integers(), st.none()), max_size=8
    )
)
def test_content_hash_ignores_key_order(record: dict[str, object]) -> None:
    assert content_hash(dict(reversed(list(record.items())))) == content_hash(record)


def test_content_hash_sees_any_change() -> None:
    record = {"id": "a" * 16, "pvp1": "1.00", "detalles": [{"cantidad": "1"}]}
    assert content_hash(record) != content_hash({**record, "pvp1": "1.01"})
    assert content_hash(record) != content_hash({**record, "detalles": [{"cantidad": "2"}]})


def test_typed_row_of_a_sale() -> None:
    record = {
        "id": "AbCdEfGhIjKlMnOp",
        "tipo_registro": "CLI",
        "tipo_documento": "FAC",
        "documento": "001-001-000000001",
        "fecha_emision": "15/03/2025",
        "persona": {"id": "P" * 16, "tipo": "J", "ruc": "0990000000001"},
        "subtotal": "100.00",
        "iva": "15.00",
        "total": "115.00",
        "saldo": "0.00",
        "estado": "C",
        "fecha_modificacion": "16/03/2025",
    }
    row = typed_row(RESOURCES["sales"], record)
    assert row["id"] == "AbCdEfGhIjKlMnOp"
    assert row["document_date"] == dt.date(2025, 3, 15)
    assert row["total"] == Decimal("115.00") and isinstance(row["total"], Decimal)
    assert (row["person_id"], row["person_type"]) == ("P" * 16, "J")
    assert row["source_updated_at"] == dt.datetime(2025, 3, 16)
    assert len(row["content_hash"]) == 64


def test_a_bad_field_names_record_and_field() -> None:
    record = {"id": "X" * 16, "codigo": "P1", "pvp1": "doce"}
    with pytest.raises(RecordError, match=r"record XXXXXXXXXXXXXXXX: field 'pvp1'"):
        typed_row(RESOURCES["products"], record)


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"nombre": "sin id"}], "record 1 of the page: record without an id"),
        ([{"id": "A" * 16}, {"id": "A" * 16}], "repeats id"),
        (["texto"], "expected a JSON object"),
    ],
)
def test_parse_page_rejects_the_whole_page(records: list[object], message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_page(RESOURCES["brands"], records)


def test_page_shapes() -> None:
    assert page_records("v1", [{"id": 1}]) == ([{"id": 1}], None, None)
    assert page_records("v2", {"count": 3, "next": "http://x/?page=2", "previous": None, "results": []}) == (
        [],
        3,
        "http://x/?page=2",
    )
    with pytest.raises(PayloadError, match="JSON array"):
        page_records("v1", {"results": []})
    with pytest.raises(PayloadError, match="'results' array"):
        page_records("v2", [])


def test_error_messages_and_out_of_range() -> None:
    assert error_message(b'{"mensaje": "Token invalido"}') == "Token invalido"
    assert error_message(b'{"detail": "No autorizado"}') == "No autorizado"
    assert is_page_out_of_range(400, b'{"code":"400","error":"Pagina fuera del rango"}')
    assert not is_page_out_of_range(400, b'{"mensaje":"Formato de fecha"}')
    assert not is_page_out_of_range(500, b'{"error":"Pagina fuera del rango"}')


def test_plan_full_scan_for_catalogs_without_modification_dates() -> None:
    plan = plan_sync(RESOURCES["brands"], cursor_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert plan.full_scan and plan.params == {}


def test_plan_first_sync_is_full_then_incremental_with_overlap() -> None:
    products = RESOURCES["products"]
    assert plan_sync(products, cursor_at=None).full_scan
    # 03:00 UTC is 22:00 the day before in Guayaquil; minus the 2 h overlap, still that day.
    plan = plan_sync(products, cursor_at=dt.datetime(2025, 6, 10, 3, 0, tzinfo=dt.UTC))
    assert not plan.full_scan
    assert plan.params == {"fecha_modificacion": "09/06/2025"}
    naive = plan_sync(products, cursor_at=dt.datetime(2025, 6, 10, 6, 30))  # SQLite gives naive UTC
    assert naive.params == {"fecha_modificacion": "09/06/2025"}


def test_plan_overrides() -> None:
    sales = RESOURCES["sales"]
    cursor = dt.datetime(2025, 6, 10, tzinfo=dt.UTC)
    assert plan_sync(sales, cursor_at=cursor, full_refresh=True).params == {"tipo_registro": "CLI"}
    since = plan_sync(sales, cursor_at=cursor, since=dt.date(2025, 1, 2))
    assert since.params == {"tipo_registro": "CLI", "fecha_modificacion": "02/01/2025"}
