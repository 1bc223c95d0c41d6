"""RUT normalisation and validation, with spellings seen in the client data."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cl.rut import calc_check_digit

from cartera_pipelines.defs.factoring import rut


@pytest.mark.parametrize(
    "written, canonical",
    [
        ("12.345.678-5", "12.345.678-5"),
        ("123456785", "12.345.678-5"),
        ("12345678-5", "12.345.678-5"),
        ("012.345.678-5", "12.345.678-5"),  # leading zero from a fixed-width export
        ("00012345678-5", "12.345.678-5"),
        (" 12 345 678 \u2013 5 ", "12.345.678-5"),  # spaces and an en dash from a spreadsheet
        ("12.345.678\u20115", "12.345.678-5"),  # non-breaking hyphen
        ("12.345.678\u22125", "12.345.678-5"),  # minus sign
        ("12\u00a0345\u00a0678-5", "12.345.678-5"),  # non-breaking spaces
        ("76.086.428-5", "76.086.428-5"),
        ("CL 76086428-5", "76.086.428-5"),
        ("10.000.013-k", "10.000.013-K"),  # lowercase k
        ("10000013K", "10.000.013-K"),
        ("1.234.567-4", "1.234.567-4"),  # 7-digit body (older RUNs)
        ("01234567-4", "1.234.567-4"),
        ("5.126.663-3", "5.126.663-3"),
        ("7.654.321-6", "7.654.321-6"),
    ],
)
def test_normalises_real_spellings(written: str, canonical: str) -> None:
    assert rut.normalize(written) == canonical
    assert rut.is_valid(written)


@pytest.mark.parametrize(
    "written, reason",
    [
        ("12.345.678-4", "check digit 4 is wrong (expected 5)"),
        ("76.086.428-K", "check digit K is wrong"),
        ("10.000.013-0", "expected K"),
        ("1-9", "too short"),
        ("123.456-0", "too short"),
        ("0.000.000-0", "too short"),
        ("123.456.789-1", "too long"),
        ("12.34A.678-5", "must be digits"),
        ("12-345-678-5", "a dash may only separate the check digit"),
        ("", "too short"),
        ("-", "a dash may only separate the check digit"),
    ],
)
def test_rejects_with_a_reason(written: str, reason: str) -> None:
    assert not rut.is_valid(written)
    with pytest.raises(rut.InvalidRut, match=reason.replace("(", r"\(").replace(")", r"\)")):
        rut.normalize(written)
    assert rut.try_normalize(written) is None


def test_two_spellings_are_one_rut() -> None:
    assert rut.same_rut("76.086.428-5", "760864285")
    assert rut.same_rut("10000013-k", "10.000.013-K")
    assert not rut.same_rut("76.086.428-5", "12.345.678-5")


@st.composite
def spellings(draw: st.DrawFn) -> tuple[str, str]:
    body = draw(st.integers(min_value=1_000_000, max_value=99_999_999))
    digit = calc_check_digit(str(body))
    dotted = f"{body:,}".replace(",", ".")
    text = draw(st.sampled_from([dotted, str(body), "0" * draw(st.integers(0, 3)) + str(body)]))
    dash = draw(st.sampled_from(["-", "", " - ", "\u2013", "\u2014", "\u2212"]))
    d = draw(st.sampled_from([digit, digit.lower()]))
    return f"{text}{dash}{d}", f"{dotted}-{digit}"


@given(spellings())
def test_any_spelling_of_a_valid_rut_normalises_to_the_stdnum_format(case: tuple[str, str]) -> None:
    written, canonical = case
    assert rut.normalize(written) == canonical
    assert rut.normalize(canonical) == canonical  # idempotent


@given(st.integers(min_value=1_000_000, max_value=99_999_999), st.sampled_from("0123456789K"))
def test_exactly_one_check_digit_is_valid(body: int, digit: str) -> None:
    assert rut.is_valid(f"{body}-{digit}") == (digit == calc_check_digit(str(body)))
