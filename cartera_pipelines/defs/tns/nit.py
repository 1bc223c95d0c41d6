"""Colombian NIT normalisation: digits only, the DIAN modulo-11 check digit validated and kept apart."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.co import nit as stdnum_nit

VALID = "valid"
INVALID_CHECK_DIGIT = "invalid_check_digit"
NO_CHECK_DIGIT = "no_check_digit"

MIN_DIGITS, MAX_DIGITS = 6, 10
"""A Colombian NIT (or cédula used as NIT) has 6 to 10 digits without its check digit."""

# How NITs are written in ERPs and spreadsheets: a "NIT" label, dots, commas or (non-breaking) spaces
# between groups, any dash (or "DV") before the check digit, a stray final dot.
_LABEL = re.compile(r"^\s*N\.?\s*I\.?\s*T\.?\s*[:#.]?", re.IGNORECASE)
_DASHES = re.compile(r"\s*(?:[\u002d\u2010-\u2015\u2212\ufe63\uff0d]|\bD\.?\s*V\.?)\s*", re.IGNORECASE)
_SEPARATORS = re.compile(r"[.,\s]")


class NitError(ValueError):
    """A NIT that cannot be normalised (letters, empty, too long)."""


@dataclass(frozen=True)
class Nit:
    number: str
    """Digits only, without the check digit (the key used everywhere: partitions, tables)."""
    check_digit: str
    """The DIAN check digit computed from ``number``."""
    source_check_digit: str | None
    """The check digit as written after ``-`` in the source, or None when absent."""

    @property
    def status(self) -> str:
        if self.source_check_digit is None:
            return NO_CHECK_DIGIT
        return VALID if self.source_check_digit == self.check_digit else INVALID_CHECK_DIGIT

    @property
    def formatted(self) -> str:
        """``900.123.456-8`` style, with the computed check digit."""
        return stdnum_nit.format(self.number + self.check_digit)


def check_digit(number: str) -> str:
    """The DIAN modulo-11 check digit of a NIT (digits only, without check digit)."""
    return stdnum_nit.calc_check_digit(number)


def parse_nit(raw: str | None) -> Nit:
    """Normalise a NIT as written in TNS: a "NIT" label, dots, commas and spaces dropped, a check digit
    after a dash (any dash, or "DV") split off, leading zeros dropped; 6 to 10 digits remain.

    Without a dash the whole value is the NIT (TNS stores many NITs without check digit; guessing
    that the last digit is one would corrupt those: see :func:`possible_nine_digit_nit`).
    """
    if raw is None or not str(raw).strip():
        raise NitError("empty NIT")
    text = _DASHES.sub("-", _LABEL.sub("", str(raw)))
    text = _SEPARATORS.sub("", text)
    if not text:
        raise NitError(f"NIT {raw!r} has no digits")
    number, dash, digit = text.partition("-")
    if dash and "-" in digit:
        raise NitError(f"NIT {raw!r} has more than one '-'")
    if not number.isdigit():
        raise NitError(f"NIT {raw!r} has characters other than digits, dots, spaces and one '-'")
    number = number.lstrip("0")
    if not MIN_DIGITS <= len(number) <= MAX_DIGITS:
        raise NitError(f"NIT {raw!r} must have 6 to 10 digits (without check digit), not {len(number)}")
    source_digit: str | None = None
    if dash:
        if len(digit) != 1 or not digit.isdigit():
            raise NitError(f"NIT {raw!r}: the check digit after '-' must be one digit")
        source_digit = digit
    return Nit(number=number, check_digit=check_digit(number), source_check_digit=source_digit)


def possible_nine_digit_nit(nit: Nit) -> str | None:
    """The nine-digit NIT a ten-digit one written without dash may really be (its last digit being the
    DIAN check digit of the first nine), else None. Only reported, never merged: many ten-digit NITs
    (cédulas) end in such a digit by chance."""
    number = nit.number
    if (
        nit.source_check_digit is None
        and len(number) == MAX_DIGITS
        and number[-1] == check_digit(number[:-1])
    ):
        return number[:-1]
    return None
