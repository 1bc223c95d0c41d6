"""``lib.xlsx``: what it writes reads back with openpyxl, value for value, whatever the text holds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartera_pipelines.lib.xlsx import _ILLEGAL, column_letter, to_excel, write_workbook

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(width=64),
    texts,
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2200, 1, 1)).map(
        lambda moment: moment.replace(microsecond=0)
    ),
)


def _expected(value: object) -> object:
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return str(value)  # no cell value for NaN and infinities: their text
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cells, min_size=1, max_size=6), min_size=1, max_size=15))
def test_every_value_reads_back_with_openpyxl(tmp_path: Path, rows: list[list[object]]) -> None:
    path = tmp_path / "book.xlsx"
    write_workbook(path, [("Datos", rows), ("Resumen ñ", [["clave", "valor"]])])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Datos", "Resumen ñ"]
    read = [list(row) for row in book["Datos"].iter_rows(values_only=True)]
    width = max(len(row) for row in rows)
    for written, got in zip(rows, read, strict=True):
        assert got[: len(written)] == [_expected(v) for v in written]
        assert all(v is None for v in got[len(written) : width])


def test_non_ascii_headers_markup_and_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "b.xlsx"
    rows = [["Año fiscal", "Cédula/NIT", "<b>&\"'</b>"], ["Ñandú\x00\x1f\r\n", 12.5, dt.date(2026, 2, 28)]]
    write_workbook(path, [("Contratos Fijos", rows)])
    sheet = openpyxl.load_workbook(path)["Contratos Fijos"]
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [
        ["Año fiscal", "Cédula/NIT", "<b>&\"'</b>"],
        ["Ñandú\r\n", 12.5, dt.datetime(2026, 2, 28)],
    ]


def test_aware_moments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aware"):
        write_workbook(tmp_path / "x.xlsx", [("s", [[dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]])])


def test_serials_and_letters() -> None:
    assert to_excel(dt.date(1900, 3, 1)) == 61 and to_excel(dt.date(2026, 12, 3)) == 46359
    assert [column_letter(i) for i in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]
