"""Pure logic: dates, amounts, hashes, page shapes, typed rows, sync planning."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.contifico.catalog import CATALOG, RESOURCES
from cartera_pipelines.defs.contifico.parsing import (
    RecordError,
    canonical_and_hash,
    canonical_json,
    content_hash,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_page,
    typed_row,
)
from cartera_pipelines.defs.contifico.plan import CONTIFICO_TZ, deletion_skip_reason, plan_sync
from cartera_pipelines.resources.contifico import (
    PayloadError,
    decode_json,
    error_message,
    is_page_out_of_range,
    page_records,
)


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
        ("2025-02-01", dt.date(2025, 2, 1)),
        ("2026-02-18T11:12:08", dt.date(2026, 2, 18)),
        ("2026-02-18T11:12:08.123Z", dt.date(2026, 2, 18)),
    ],
)
def test_parse_date(text: str | None, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["32/01/2025", "1/2", 20250201, "2025-13-01", "ayer", "2025/02/01"])
def test_parse_date_rejects_what_is_not_a_date(text: object) -> None:
    with pytest.raises(RecordError, match="date"):
        parse_date(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every spelling the API sent (DESIGN §3, "Payloads are hostile")
        ("05/06/2025", dt.datetime(2025, 6, 5)),
        ("05/06/2025 10:11", dt.datetime(2025, 6, 5, 10, 11)),
        ("05/06/2025 10:11:12", dt.datetime(2025, 6, 5, 10, 11, 12)),
        ("05/06/2025 10:11:12.345", dt.datetime(2025, 6, 5, 10, 11, 12, 345000)),
        ("2026-02-18", dt.datetime(2026, 2, 18)),
        ("2026-02-18T11:12:08", dt.datetime(2026, 2, 18, 11, 12, 8)),
        ("2026-02-18 11:12:08", dt.datetime(2026, 2, 18, 11, 12, 8)),
        ("2026-02-18T11:12:08.123456", dt.datetime(2026, 2, 18, 11, 12, 8, 123456)),
        # with an offset: converted to Contifico's local time (UTC-5)
        ("2026-02-18T16:12:08Z", dt.datetime(2026, 2, 18, 11, 12, 8)),
        ("2026-02-18T11:12:08-05:00", dt.datetime(2026, 2, 18, 11, 12, 8)),
        ("2026-02-18T17:12:08.5+01:00", dt.datetime(2026, 2, 18, 11, 12, 8, 500000)),
        # Ecuador's one summer time (1992-11-28 to 1993-02-05): Guayaquil was at -04:00 then
        ("1993-01-01T00:00:00-05:00", dt.datetime(1993, 1, 1, 1, 0)),
    ],
)
def test_parse_datetime_accepts_every_spelling(text: str, expected: dt.datetime) -> None:
    assert parse_datetime(text) == expected


FIVE_WEST = dt.timezone(dt.timedelta(hours=-5))


@given(
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 12, 31)),
    st.sampled_from(
        [
            "%d/%m/%Y",
            "%d/%m/%Y %H:%M:%S",
            "%d/%m/%Y %H:%M:%S.%f",
            "%Y-%m-%d",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M:%S.%f",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S-05:00",
            "%Y-%m-%dT%H:%M:%S.%f-05:00",
        ]
    ),
)
def test_any_date_spelling_reads_back_the_same_moment(moment: dt.datetime, spelling: str) -> None:
    text = moment.strftime(spelling)
    parsed = parse_datetime(text)
    assert parsed is not None
    kept = moment.replace(microsecond=0) if "%f" not in spelling else moment
    if "%H" not in spelling:
        kept = kept.replace(hour=0, minute=0, second=0, microsecond=0)
    if spelling.endswith("-05:00"):  # the moment in Guayaquil's local time (-05:00 but in 1992-93)
        kept = kept.replace(tzinfo=FIVE_WEST).astimezone(CONTIFICO_TZ).replace(tzinfo=None)
    assert parsed == kept
    assert parse_date(text) == moment.date()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.50", Decimal("12.50")),
        ("-3", Decimal(-3)),
        (" 0.000001 ", Decimal("0.000001")),
        (7, Decimal(7)),
        (12.5, Decimal("12.5")),
        (0.1, Decimal("0.1")),
        (-3.75, Decimal("-3.75")),
        ("", None),
        (None, None),
    ],
)
def test_parse_decimal(text: object, expected: Decimal | None) -> None:
    assert parse_decimal(text) == expected


@pytest.mark.parametrize("value", ["12,50", "abc", "NaN", "Infinity", float("nan"), float("inf"), True, [1]])
def test_parse_decimal_rejects_what_is_not_an_amount(value: object) -> None:
    with pytest.raises(RecordError):
        parse_decimal(value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12))
def test_amounts_as_strings_or_json_numbers_read_the_same(value: Decimal) -> None:
    """An amount is the same whether the API wrote it as a string or as a JSON number."""
    assert parse_decimal(str(value)) == value
    as_number = json.loads(json.dumps({"v": float(value)}))["v"]  # what a JSON number decodes to
    assert parse_decimal(as_number) == Decimal(repr(float(value)))
    assert abs(parse_decimal(as_number) - value) <= abs(value) * Decimal("1e-15") + Decimal("1e-15")


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8), st.one_of(st.text(), st.integers(), st.none()), max_size=8
    )
)
def test_content_hash_ignores_key_order(record: dict[str, object]) -> None:
    assert content_hash(dict(reversed(list(record.items())))) == content_hash(record)


_STDLIB_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=12,
    )
)
def test_canonical_json_is_the_stdlib_text(value: object) -> None:
    """orjson's fast path writes exactly what json.dumps(sort_keys) writes: stored hashes stay valid.
    (Not for NaN/±Infinity, which only ``json.loads``' fallback reads: orjson writes null, the stdlib
    NaN, which PostgreSQL's jsonb refuses, so such a record never had a stored hash.)"""
    record = {"id": "a" * 16, "v": value}
    assert canonical_json(record) == _STDLIB_CANONICAL(record)


@pytest.mark.parametrize(
    "value", [1e-05, 1e-07, 6.3e-05, 1e16, 2**64, "\ud800", "1e-5 0.0000", "\x00\x1f\u2028é"]
)
def test_canonical_json_of_what_orjson_writes_differently(value: object) -> None:
    record = {"id": "a" * 16, "v": value, "w": [value]}
    assert canonical_json(record) == _STDLIB_CANONICAL(record)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 12345678901234567890123, "b": [-1234567890123456789]}',
        b'[1e400, NaN, "\\ud83d\\ude00"]',
        b'{"results": [{"id": "x", "n": 12.50, "t": "1234567890123456789012"}]}',
        "\ufeff[1]".encode(),
    ],
)
def test_decode_json_reads_what_json_loads_reads(body: bytes) -> None:
    assert repr(decode_json(body)) == repr(json.loads(body))


def test_a_lone_surrogate_becomes_a_replacement_character_and_the_record_still_hashes() -> None:
    """Half an emoji (``\\ud83d`` without its pair), as an export that cuts text at a byte count leaves it:
    no UTF-8 column, hash or JSONB holds it, so it must not fail the page."""
    body = b'[{"id": "ABCDEFGHIJKLMNOP", "nombre": "Caf\\u00e9 \\ud83d", "\\udc00clave": ["\\ud83d\\ude00"]}]'
    [record] = decode_json(body)
    assert record == {"id": "ABCDEFGHIJKLMNOP", "nombre": "Café \ufffd", "\ufffdclave": ["\U0001f600"]}
    text, digest = canonical_and_hash(record)
    assert text.encode("utf-8") and len(digest) == 64
    page = parse_page(RESOURCES["persons"], [record])
    assert [item.row["id"] for item in page.records] == ["ABCDEFGHIJKLMNOP"] and not page.rejects


def test_decode_json_rejects_broken_json() -> None:
    with pytest.raises(ValueError):
        decode_json(b'{"results": [{"id": "x"')


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


def test_a_bad_field_names_the_field_and_value() -> None:
    record = {"id": "X" * 16, "codigo": "P1", "pvp1": "doce"}
    with pytest.raises(RecordError) as error:
        typed_row(RESOURCES["products"], record)
    assert (error.value.field, error.value.value) == ("pvp1", "doce")


def test_bookkeeping_dates_never_fail_a_record() -> None:
    """The bug of issue #14: an ISO fecha_modificacion failed persons forever; an unreadable one too."""
    person = {"id": "Pe" * 8, "tipo": "N", "razon_social": "Ana", "fecha_modificacion": "2026-02-18T11:12:08"}
    assert typed_row(RESOURCES["persons"], person)["source_updated_at"] == dt.datetime(2026, 2, 18, 11, 12, 8)
    odd = typed_row(RESOURCES["persons"], person | {"fecha_modificacion": "hace un rato"})
    assert odd["source_updated_at"] is None
    product = {"id": "Pr" * 8, "codigo": "A1", "fecha_creacion": "ayer", "fecha_modificacion": "18/02/2026"}
    assert typed_row(RESOURCES["products"], product)["created_date"] is None


def test_a_page_with_a_bad_record_writes_the_rest_and_rejects_it() -> None:
    good = {"id": "G" * 16, "codigo": "A1", "pvp1": 12.5, "fecha_modificacion": "2026-02-18T11:12:08.250"}
    bad = {"id": "B" * 16, "codigo": "A2", "pvp1": "doce", "fecha_modificacion": "18/02/2026"}
    blind = {"id": "N" * 16, "codigo": "A3", "nuevo_campo": {"x": 1}}
    page = parse_page(RESOURCES["products"], [good, bad, blind])
    assert [item.row["id"] for item in page.records] == ["G" * 16, "N" * 16]
    assert page.records[0].row["price_1"] == Decimal("12.5")
    [reject] = page.rejects
    assert (reject.id, reject.field, reject.value, reject.raw) == ("B" * 16, "pvp1", "doce", bad)
    assert page.without_modified == 1  # the record without fecha_modificacion is counted
    assert page.unknown_fields == {"nuevo_campo": {"x": 1}}
    assert page.ids == ["G" * 16, "N" * 16, "B" * 16]


def test_a_bad_line_rejects_its_document_naming_the_line() -> None:
    sale = {
        "id": "S" * 16,
        "tipo_registro": "CLI",
        "detalles": [{"cantidad": "1", "precio": "2"}, {"cantidad": "x"}],
    }
    [reject] = parse_page(RESOURCES["sales"], [sale]).rejects
    assert reject.field == "detalles[2].cantidad" and reject.value == "x"


def test_long_texts_are_kept_whole() -> None:
    entry = {
        "id": "J" * 16,
        "glosa": "x" * 450,
        "fecha": "2026-02-18",
        "total_debe": 1.5,
        "total_haber": "1.5",
    }
    row = typed_row(RESOURCES["journal_entries"], entry)
    assert row["description"] == "x" * 450 and row["document_date"] == dt.date(2026, 2, 18)


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
    assert plan.params == {"fecha_modificacion__gte": "2025-06-09T20:00:00"}
    naive = plan_sync(products, cursor_at=dt.datetime(2025, 6, 10, 6, 30))  # SQLite gives naive UTC
    assert naive.params == {"fecha_modificacion__gte": "2025-06-09T23:30:00"}


def test_plan_uses_each_endpoints_change_filter() -> None:
    cursor = dt.datetime(2025, 6, 10, 12, tzinfo=dt.UTC)
    assert plan_sync(RESOURCES["documents"], cursor_at=cursor).params == {
        "fecha_emision__gte": "2025-06-10T05:00:00"
    }


def test_deletions_are_trusted_only_when_the_ids_match_the_count() -> None:
    assert deletion_skip_reason(10, []) is None  # v1: no count
    assert deletion_skip_reason(10, [10, 10]) is None
    assert "differ from the API's count" in deletion_skip_reason(9, [10, 10])
    assert "changed during the scan" in deletion_skip_reason(10, [11, 10])


def test_plan_overrides() -> None:
    sales = RESOURCES["sales"]
    cursor = dt.datetime(2025, 6, 10, tzinfo=dt.UTC)
    assert plan_sync(sales, cursor_at=cursor, full_refresh=True).params == {"tipo_registro": "CLI"}
    since = plan_sync(sales, cursor_at=cursor, since=dt.date(2025, 1, 2))
    assert since.params == {"tipo_registro": "CLI", "fecha_modificacion__gte": "2025-01-02T00:00:00"}
