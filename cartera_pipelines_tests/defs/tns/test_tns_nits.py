"""NITs as real ERPs write them (#16): every spelling is one NIT, 6–10 digits, and a 10-digit NIT that may
be nine digits plus their DIAN check digit is reported as a possible duplicate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.tns.companies import EmpresaRow, discover
from cartera_pipelines.defs.tns.nit import NitError, check_digit, parse_nit, possible_nine_digit_nit

SPELLINGS = [
    "900.123.456-8",
    "900123456-8",
    "900123456",
    " 900 123 456 - 8 ",
    "900\u00a0123\u00a0456-8",  # non-breaking spaces, as pasted from a spreadsheet
    "900,123,456-8",
    "900.123.456–8",  # en dash
    "900.123.456‐8",  # Unicode hyphen
    "900.123.456−8",  # minus sign
    "NIT 900.123.456-8",
    "nit: 900123456-8",
    "N.I.T. 900.123.456-8",
    "900123456 DV 8",
    "900.123.456-8.",
    "0900123456-8",
]


@pytest.mark.parametrize("raw", SPELLINGS)
def test_every_spelling_is_the_same_nit(raw: str) -> None:
    assert parse_nit(raw).number == "900123456"


@pytest.mark.parametrize("raw", ["0", "000", "12345", "1-1", "12345678901", "0-0", "NIT", "DV 8"])
def test_a_nit_has_six_to_ten_digits(raw: str) -> None:
    with pytest.raises(NitError, match="6 to 10 digits|empty|digits"):
        parse_nit(raw)


def test_six_and_ten_digits_are_accepted() -> None:
    assert parse_nit("123456").number == "123456"
    assert parse_nit("1234567890").number == "1234567890"


def test_ten_digits_ending_in_the_dian_digit_of_the_first_nine_may_be_a_duplicate() -> None:
    assert possible_nine_digit_nit(parse_nit("9001234568")) == "900123456"
    assert possible_nine_digit_nit(parse_nit("9001234567")) is None  # 7 is not the DIAN digit of 900123456
    assert possible_nine_digit_nit(parse_nit("900123456-8")) is None  # written with a dash: no doubt
    assert possible_nine_digit_nit(parse_nit("900123456")) is None


@given(st.integers(min_value=100_000_000, max_value=999_999_999))
def test_possible_duplicate_rule_against_the_dian_digit(nine: int) -> None:
    digit = check_digit(str(nine))
    assert possible_nine_digit_nit(parse_nit(f"{nine}{digit}")) == str(nine)
    other = str((int(digit) + 1) % 10)
    assert possible_nine_digit_nit(parse_nit(f"{nine}{other}")) is None


def _row(server: str, code: str, nit: str, year: int) -> EmpresaRow:
    return EmpresaRow(server, code, "Distribuidora Andina", nit, year, f"{code}.fdb")


def test_discovery_merges_spellings_and_reports_possible_duplicates_with_both_spellings() -> None:
    found = discover(
        [
            ("a", [_row("a", "001", "900.123.456-8", 2024), _row("a", "002", "NIT 0", 2024)]),
            ("b", [_row("b", "001", "900123456", 2025), _row("b", "002", "9001234568", 2025)]),
        ]
    )
    assert set(found.by_key()) == {"900123456_2024", "900123456_2025", "9001234568_2025"}
    assert found.nits() == ["900123456", "9001234568"]
    [rejected] = found.rejected
    assert rejected.row.codigo == "002" and "6 to 10 digits" in rejected.reason
    [possible] = found.possible_duplicates()
    assert possible == {
        "company_year": "9001234568_2025",
        "written": "9001234568",
        "may be": "900.123.456-8",
        "also discovered as": "900.123.456-8, 900123456",
    }
    assert any("9001234568" in line and "900.123.456-8" in line for line in found.warnings())
