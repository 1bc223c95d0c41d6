"""Pure logic: NIT check digits, discovery de-duplication, row conversion, API key material."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.tns.api_keys import PREFIX_LENGTH, hash_key, new_key
from cartera_pipelines.defs.tns.companies import EmpresaRow, discover
from cartera_pipelines.defs.tns.movements import CompanyContext, ExtractPlan, MovementError, make_converter
from cartera_pipelines.defs.tns.nit import (
    INVALID_CHECK_DIGIT,
    NO_CHECK_DIGIT,
    VALID,
    NitError,
    check_digit,
    parse_nit,
)
from cartera_pipelines.defs.tns.sql import movements_query


@pytest.mark.parametrize(
    ("raw", "number", "digit", "status"),
    [
        ("900.123.456-8", "900123456", "8", VALID),
        ("900123456-8", "900123456", "8", VALID),
        (" 860 512 330-3 ", "860512330", "3", VALID),
        ("800197268-4", "800197268", "4", VALID),
        ("800197268-7", "800197268", "4", INVALID_CHECK_DIGIT),
        ("901.455.782", "901455782", check_digit("901455782"), NO_CHECK_DIGIT),
        ("0900123456-8", "900123456", "8", VALID),
    ],
)
def test_parse_nit(raw: str, number: str, digit: str, status: str) -> None:
    nit = parse_nit(raw)
    assert (nit.number, nit.check_digit, nit.status) == (number, digit, status)


@pytest.mark.parametrize(
    "raw", [None, "", "  ", "90012345A", "900123456-", "900123456-12", "900-123-456", "1" * 16]
)
def test_parse_nit_rejects_garbage(raw: str | None) -> None:
    with pytest.raises(NitError):
        parse_nit(raw)


def test_check_digit_matches_dian_weights() -> None:
    # Independent oracle: the DIAN weights written out, modulo 11, 0/1 stay, else 11 - r.
    weights = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)
    for number in ("900123456", "860512330", "800197268", "8001972", "1"):
        r = sum(int(d) * w for d, w in zip(reversed(number), weights)) % 11
        assert check_digit(number) == str(r if r < 2 else 11 - r)


@given(st.integers(min_value=100_000, max_value=10**10 - 1), st.integers(min_value=0, max_value=9))
def test_only_the_right_digit_validates(number: int, digit: int) -> None:
    nit = parse_nit(f"{number}-{digit}")
    assert (nit.status == VALID) == (str(digit) == check_digit(str(number)))


def _row(server: str, code: str, nit: str | None, year: object, archivo: str | None = "X.fdb") -> EmpresaRow:
    return EmpresaRow(server, code, f"Empresa {code}", nit, year, archivo)


def test_discover_keeps_first_server_and_reports_duplicates_and_bad_rows() -> None:
    found = discover(
        [
            ("a", [_row("a", "001", "900.123.456-8", 2024), _row("a", "002", "900123456-8", 2025)]),
            (
                "b",
                [
                    _row("b", "001", "900123456", 2025, "COPY.fdb"),
                    _row("b", "002", "ABC", 2025),
                    _row("b", "003", "800197268", "20x5"),
                    _row("b", "004", "800197268", 2024, None),
                ],
            ),
        ]
    )
    assert sorted(found.by_key()) == ["900123456_2024", "900123456_2025"]
    assert found.by_key()["900123456_2025"].server == "a"
    [dup] = found.duplicates
    assert (dup.ignored.server, dup.ignored.archivo, dup.kept.server) == ("b", "COPY.fdb", "a")
    assert sorted(r.row.codigo for r in found.rejected) == ["002", "003", "004"]
    assert all(r.reason for r in found.rejected)


CTX = CompanyContext("900123456_2024", "900123456", 2024, "001", dt.datetime(2024, 5, 1, tzinfo=dt.UTC))


def _line(code: str = "FV", art: str | None = "ART-1", total: object = Decimal("10.005")) -> tuple:
    return (
        7,
        3,
        code,
        "FE",
        "12",
        dt.date(2024, 2, 1),
        art,
        "Café",
        "PPAL",
        "Bodega",
        "123",
        "José",
        Decimal("2"),
        Decimal("5"),
        Decimal("0.95"),
        Decimal("5.95"),
        Decimal("0"),
        total,
        9,
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("FV", "FACTURA_VENTA"),
        ("DV", "DEVOLUCION_VENTA"),
        ("FC", "FACTURA_COMPRA"),
        ("DC", "DEVOLUCION_COMPRA"),
        ("RE", "REMISION_ENTRADA"),
    ],
)
def test_document_types_mapped(code: str, expected: str) -> None:
    row = make_converter(CTX, Counter())(_line(code))
    assert row is not None and row[6] == expected and row[7] == code


@pytest.mark.parametrize("code", ["NC", "XX", "FVX", None])
def test_unknown_codes_counted_and_skipped_not_guessed(code: str | None) -> None:
    unknown: Counter[str] = Counter()
    convert = make_converter(CTX, unknown)
    assert convert(_line(code)) is None
    assert convert(_line(code)) is None
    assert sum(unknown.values()) == 2


def test_line_total_rounded_half_up_to_cents_and_sqlite_text_is_exact() -> None:
    row = make_converter(CTX, Counter())(_line(total=Decimal("10.005")))
    assert row is not None and row[22] == Decimal("10.01")
    sqlite_line = list(_line(total="0.1"))
    sqlite_line[5] = "2024-02-01"
    sqlite_line[12] = "0.3"
    row = make_converter(CTX, Counter())(tuple(sqlite_line))
    assert row is not None and row[17] == Decimal("0.3") and row[22] == Decimal("0.10")
    assert row[10] == dt.date(2024, 2, 1)


def test_missing_article_is_a_clear_error() -> None:
    with pytest.raises(MovementError, match="DEKARDEX line 7 .*MATID 9"):
        make_converter(CTX, Counter())(_line(art=None))


@pytest.mark.parametrize("driver", ["sqlite", "firebird"])
def test_query_is_ordered_and_filters_posted_not_voided(driver: str) -> None:
    sql, params = movements_query(driver)
    assert sql.rstrip().endswith("ORDER BY D.DEKARDEXID")
    assert "FECASENTAD IS NOT NULL AND K.FECANULADO IS NULL" in sql
    assert " ROWS " not in sql and params == []
    dated, params = movements_query(
        driver, ExtractPlan(date_from=dt.date(2025, 2, 1), date_to=dt.date(2025, 2, 28))
    )
    assert dated.rstrip().endswith("ORDER BY D.DEKARDEXID") and dated.count("?") == len(params) == 2


def test_new_keys_are_random_and_only_hash_and_prefix_describe_them() -> None:
    a, b = new_key(), new_key()
    assert a.key != b.key and a.key.startswith("sk_") and len(a.key) > 40
    assert a.prefix == a.key[:PREFIX_LENGTH] and a.key_hash == hash_key(a.key) and len(a.key_hash) == 64
    assert a.key not in a.key_hash
