"""Chilean RUT: one canonical spelling (``12.345.678-5``) whichever way it was written.

Pure logic over ``stdnum.cl.rut`` (modulo-11 check digit, factors 2..7 cycling, 11→0, 10→K). What the
legacy API accepted and we therefore normalise: dots or none, spaces (also non-breaking and thin),
any unicode dash (‐ ‑ ‒ – — − …) or none before the check digit, leading zeros, lowercase ``k``, a
``CL`` prefix. Two spellings of one RUT normalise to the same string.

Decision: the body (without check digit) must have 7 or 8 digits once leading zeros are dropped
(1.000.000 to 99.999.999), as ``stdnum`` requires; shorter bodies are rejected as too short rather
than padded, because in the client data they come from truncated input, not from real RUNs.
"""

from __future__ import annotations

import re
import unicodedata

from stdnum.cl import rut as stdnum_rut
from stdnum.exceptions import ValidationError

# Every dash-like code point a spreadsheet or a phone keyboard may produce.
_DASHES = re.compile(r"[\u2010-\u2015\u2212\uFE58\uFE63\uFF0D\u00AD_]")


class InvalidRut(ValueError):
    """A RUT that cannot be normalised; the message says what is wrong with which input."""


def _clean(value: str) -> str:
    text = unicodedata.normalize("NFKC", value)
    text = _DASHES.sub("-", text)
    text = "".join(ch for ch in text if not ch.isspace())
    return text.upper().replace(".", "")


def compact(value: str) -> str:
    """Body and check digit without separators or leading zeros, e.g. ``123456785``; raises ``InvalidRut``."""
    if value is None:
        raise InvalidRut("RUT is missing")
    text = _clean(str(value))
    if text.startswith("CL"):
        text = text[2:]
    if "-" in text and (text.count("-") > 1 or text.index("-") != len(text) - 2):
        raise InvalidRut(f"RUT {value!r}: a dash may only separate the check digit")
    text = text.replace("-", "")
    if len(text) < 2:
        raise InvalidRut(f"RUT {value!r}: too short")
    body, digit = text[:-1].lstrip("0"), text[-1]
    if not body and text[:-1]:
        raise InvalidRut(f"RUT {value!r}: body {text[:-1]} is too short (at least 7 digits, 1.000.000)")
    if not body.isdigit() or not re.fullmatch(r"[0-9K]", digit):
        raise InvalidRut(f"RUT {value!r}: the body must be digits and the check digit 0-9 or K")
    if len(body) < 7:
        raise InvalidRut(f"RUT {value!r}: body {body} is too short (at least 7 digits, 1.000.000)")
    if len(body) > 8:
        raise InvalidRut(f"RUT {value!r}: body {body} is too long (at most 8 digits)")
    expected = stdnum_rut.calc_check_digit(body)
    if digit != expected:
        raise InvalidRut(f"RUT {value!r}: check digit {digit} is wrong (expected {expected})")
    try:
        return stdnum_rut.validate(body + digit)
    except ValidationError as exc:  # pragma: no cover - the checks above are stricter
        raise InvalidRut(f"RUT {value!r}: {exc}") from exc


def normalize(value: str) -> str:
    """The canonical ``NN.NNN.NNN-D`` spelling; raises ``InvalidRut`` saying what is wrong."""
    return stdnum_rut.format(compact(value))


def is_valid(value: str | None) -> bool:
    try:
        compact(value)  # type: ignore[arg-type]
    except InvalidRut:
        return False
    return True


def try_normalize(value: str | None) -> str | None:
    """The canonical spelling, or ``None`` when the RUT is invalid (for reports that must not stop)."""
    try:
        return normalize(value)  # type: ignore[arg-type]
    except InvalidRut:
        return None


def same_rut(a: str, b: str) -> bool:
    """Whether two spellings name the same valid RUT."""
    return normalize(a) == normalize(b)
