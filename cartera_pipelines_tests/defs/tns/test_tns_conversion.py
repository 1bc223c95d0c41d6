"""Source numbers as real TNS servers hold them (#16): NUMERIC or DOUBLE PRECISION, typed or as text for
COPY, give the same values: the decimal the value spells, half-up to 4 places (quantities, prices) and to
cents (money)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.tns.movements import (
    COLUMNS,
    CompanyContext,
    EmptyAnswer,
    ExtractPlan,
    MovementError,
    copy_affixes,
    make_converter,
    problem_row,
    refuse_empty,
    typed_record,
)

CTX = CompanyContext("900123456_2025", "900123456", 2025, "001", dt.datetime(2025, 5, 1, tzinfo=dt.UTC))
QUANTITY, BASE, TOTAL = 17, 18, 22


def _row(quantity: object, base: object, total: object, fecha: object = dt.date(2025, 2, 1)) -> tuple:
    return (
        7,
        3,
        "FV",
        "FE",
        "12",
        fecha,
        "ART-1",
        "Café",
        "PPAL",
        "Bodega",
        "123",
        "José",
        quantity,
        base,
        0,
        base,
        0,
        total,
        9,
    )


def _typed(quantity: object, base: object, total: object) -> tuple:
    row = make_converter(CTX, Counter())(_row(quantity, base, total))
    assert row is not None
    return row[QUANTITY], row[BASE], row[TOTAL]


def test_double_precision_values_are_the_decimal_they_spell_rounded_half_up() -> None:
    # 2.00005 and 10.005 are just below the tie in binary; their text is the tie, which rounds up
    assert _typed(2.00005, 1.23455, 10.005) == (Decimal("2.0001"), Decimal("1.2346"), Decimal("10.01"))
    assert _typed(0.1, 3.0, 2.675) == (Decimal("0.1000"), Decimal("3.0000"), Decimal("2.68"))
    assert _typed(1e-05, 1.5, -0.125) == (Decimal("0.0000"), Decimal("1.5000"), Decimal("-0.13"))


def test_numeric_decimals_and_text_give_the_same_values() -> None:
    assert _typed(Decimal("2.00005"), Decimal("1.23455"), Decimal("10.005")) == _typed(
        2.00005, 1.23455, 10.005
    )
    assert _typed("2.00005", "1.23455", "10.005") == _typed(2.00005, 1.23455, 10.005)
    assert _typed("1e-05", "1.5", "") == (Decimal("0.0000"), Decimal("1.5000"), Decimal("0.00"))


def _postgres_numeric(text: str, places: str) -> Decimal:
    """PostgreSQL's assignment to NUMERIC(18, s): the text's exact decimal, ties away from zero."""
    return Decimal(text).quantize(Decimal(places), ROUND_HALF_UP)


@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
)
def test_copy_text_and_typed_values_agree_for_any_double(quantity: float, total: float) -> None:
    """The COPY path keeps the text csv.writer prints (``repr``); PostgreSQL rounds it as the typed path."""
    copied = make_converter(CTX, Counter(), copy=True)(_row(str(quantity), "1", str(total), "2025-02-01"))
    assert copied is not None
    typed_quantity, _, typed_total = _typed(quantity, 1, total)
    assert _postgres_numeric(copied[QUANTITY], "0.0001") == typed_quantity
    assert _postgres_numeric(copied[TOTAL], "0.01") == typed_total
    assert copied[10] == "2025-02-01" and copied[5] == 7


def test_timestamp_dates_and_text_dates_are_dates() -> None:
    for fecha in (dt.datetime(2025, 2, 1, 13, 5), "2025-02-01", "2025-02-01 00:00:00", dt.date(2025, 2, 1)):
        row = make_converter(CTX, Counter())(_row(1, 1, 1, fecha))
        assert row is not None and row[10] == dt.date(2025, 2, 1)


def test_a_line_without_quantity_or_date_is_one_clear_error() -> None:
    with pytest.raises(MovementError, match="line 7 .*CANMAT"):
        make_converter(CTX, Counter(), copy=True)(_row("", "1", "1", "2025-02-01"))
    with pytest.raises(MovementError, match="KARDEX 3 .*FECHA"):
        make_converter(CTX, Counter())(_row(1, 1, 1, None))


def test_an_empty_answer_for_a_non_empty_slice_is_refused_unless_allowed() -> None:
    with pytest.raises(EmptyAnswer, match=r"0 lines .* 1,200.*allow_empty"):
        refuse_empty("900123456_2025", ExtractPlan(), read=0, held=1200)
    refuse_empty("900123456_2025", ExtractPlan(allow_empty=True), read=0, held=1200)
    refuse_empty("900123456_2025", ExtractPlan(), read=0, held=0)
    refuse_empty("900123456_2025", ExtractPlan(), read=3, held=1200)


def test_a_date_range_is_ordered() -> None:
    with pytest.raises(ValueError, match="date_from .* after date_to"):
        ExtractPlan(date_from=dt.date(2025, 3, 1), date_to=dt.date(2025, 2, 1))
    assert ExtractPlan(date_from=dt.date(2025, 2, 1)).describe() == "2025-02-01 … …"


# --- lines the Firebird server formats (sql.movement_lines_query) --------------------------------------

LINE = '7\t3\tFACTURA_VENTA\tFV\t"FE"\t"0042"\t2025-02-01\t"ART-1"\t"Tornillo 1/4"" x\t2"""\t\t\t\t"José\n"\t2.00005\t1\t\t1\t0\t10.005'


@given(st.text(min_size=1, max_size=12).filter(lambda c: "\x00" not in c))
def test_a_server_line_with_the_partition_constants_is_one_csv_record(code: str) -> None:
    company = CompanyContext("900123456_2025", "900123456", 2025, code, CTX.extracted_at)
    prefix, suffix = copy_affixes(company)
    [record] = list(csv.reader(io.StringIO(prefix + LINE + suffix + "\n"), delimiter="\t"))
    assert len(record) == len(COLUMNS)
    assert record[:4] == ["900123456_2025", "900123456", "2025", code]
    assert record[-1] == CTX.extracted_at.isoformat() and record[12] == 'Tornillo 1/4" x\t2"'


def test_a_server_line_typed_is_what_postgresql_makes_of_its_text() -> None:
    prefix, suffix = copy_affixes(CTX)
    [record] = list(csv.reader(io.StringIO(prefix + LINE + suffix + "\n"), delimiter="\t"))
    row = typed_record(record, CTX)
    assert row[:4] == ("900123456_2025", "900123456", 2025, "001") and row[-1] == CTX.extracted_at
    assert row[4:11] == (7, 3, "FACTURA_VENTA", "FV", "FE", "0042", dt.date(2025, 2, 1))
    assert row[13] is None and row[16] == "José\n"
    assert row[QUANTITY] == _postgres_numeric("2.00005", "0.0001") == Decimal("2.0001")
    assert row[19] is None and row[TOTAL] == Decimal("10.01")


def test_a_line_the_server_flagged_is_counted_or_reported_by_the_one_converter() -> None:
    unknown: Counter[str] = Counter()
    convert = make_converter(CTX, unknown, copy=True)
    assert convert(problem_row(["7", "3", "9", "111", "NC"])) is None
    assert convert(problem_row(["8", "3", "9", "111", ""])) is None
    assert unknown == Counter({"NC": 1, "<empty>": 1})
    with pytest.raises(MovementError, match="DEKARDEX line 7 .*MATID 99"):
        convert(problem_row(["7", "3", "99", "011", "FV"]))
    with pytest.raises(MovementError, match="KARDEX 3 .*FECHA"):
        convert(problem_row(["7", "3", "9", "101", "FV"]))
    with pytest.raises(MovementError, match="line 7 .*CANMAT"):
        convert(problem_row(["7", "3", "9", "110", "FV"]))
