"""Colombian NIT normalisation: digits only, the DIAN modulo-11 check digit validated and kept apart."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.co import nit as stdnum_nit

VALID = "valid"
INVALID_CHECK_DIGIT = "invalid_check_digit"
NO_CHECK_DIGIT = "no_check_digit"

_SEPARATORS = re.compile(r"[.\s]")


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
    """Normalise a NIT as written in TNS: dots and spaces dropped, a check digit after ``-`` split off.

    Without a ``-`` the whole value is the NIT (TNS stores many NITs without check digit; guessing
    that the last digit is one would corrupt those).
    """
    if raw is None or not str(raw).strip():
        raise NitError("empty NIT")
    text = _SEPARATORS.sub("", str(raw))
    number, dash, digit = text.partition("-")
    if dash and "-" in digit:
        raise NitError(f"NIT {raw!r} has more than one '-'")
    if not number.isdigit():
        raise NitError(f"NIT {raw!r} has characters other than digits, dots, spaces and one '-'")
    number = number.lstrip("0") or "0"
    if len(number) > 15:
        raise NitError(f"NIT {raw!r} is longer than 15 digits")
    source_digit: str | None = None
    if dash:
        if len(digit) != 1 or not digit.isdigit():
            raise NitError(f"NIT {raw!r}: the check digit after '-' must be one digit")
        source_digit = digit
    return Nit(number=number, check_digit=check_digit(number), source_check_digit=source_digit)
