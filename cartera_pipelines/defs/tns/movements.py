"""Inventory movements: document-type mapping, what one extraction covers, and the row conversion (pure,
no I/O; the source query is in ``sql.py``).

Source numbers may be NUMERIC/DECIMAL (the driver gives exact decimals) or DOUBLE PRECISION (floats). Either
way a value is the decimal its shortest text spells (``repr`` of a float: ``2.00005``, not the binary
``2.0000499999…``), rounded half away from zero: quantities, prices and discounts to 4 places, money
(``line_total``) to cents. The typed path rounds here; the ``COPY`` path hands PostgreSQL the same text
and ``NUMERIC(18,4)``/``NUMERIC(18,2)`` round it by the same rule.

From a Firebird source with NUMERIC numbers the server formats each line (``sql.movement_lines_query``):
:func:`copy_affixes` completes it into a ``COPY`` record, :func:`typed_record` types it for other
warehouses, and :func:`problem_row` hands a line the server flagged to the same converter.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cartera_pipelines.defs.tns.tables import tns_inventory_movements

DOCUMENT_TYPES: dict[str, str] = {
    "FV": "FACTURA_VENTA",
    "DV": "DEVOLUCION_VENTA",
    "FC": "FACTURA_COMPRA",
    "DC": "DEVOLUCION_COMPRA",
    "RE": "REMISION_ENTRADA",
}
"""``KARDEX.CODCOMP`` → document type. Any other code is counted and skipped, never guessed."""

CENT = Decimal("0.01")
FOUR_PLACES = Decimal("0.0001")

# Order of the warehouse columns a converted row fills (the table's order).
COLUMNS: tuple[str, ...] = tuple(c.name for c in tns_inventory_movements.columns)


class MovementError(ValueError):
    """A source line that cannot be loaded as it is (the message says which line and why)."""


@dataclass(frozen=True)
class CompanyContext:
    """The constant part of every row of one partition."""

    company_year: str
    company_nit: str
    fiscal_year: int
    company_code: str
    extracted_at: dt.datetime


@dataclass(frozen=True)
class ExtractPlan:
    """What one extraction covers: the whole partition, or only its documents dated in a range."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    allow_empty: bool = False
    """Accept a source that answers no lines although the slice holds some (else the run fails)."""

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"date_from {self.date_from} is after date_to {self.date_to}")

    @property
    def dated(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    def describe(self) -> str:
        if not self.dated:
            return "all dates"
        return f"{self.date_from or '…'} … {self.date_to or '…'}"


class EmptyAnswer(RuntimeError):
    """The source answered no lines for a slice that holds some (one line, naming both counts)."""


def refuse_empty(company_year: str, plan: ExtractPlan, read: int, held: int) -> None:
    """Raise :class:`EmptyAnswer` when a non-empty slice would be replaced by nothing, unless allowed."""
    if read == 0 and held > 0 and not plan.allow_empty:
        raise EmptyAnswer(
            f"{company_year} ({plan.describe()}): the source answered 0 lines where the warehouse holds "
            f"{held:,}; not replaced (set allow_empty to accept an empty source)"
        )


def _number(value: Any, places: Decimal) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)
    number = Decimal(value)
    if not number.is_finite():
        raise MovementError(f"{value!r} is not a number")
    return number.quantize(places, ROUND_HALF_UP)


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


Converter = Callable[[Sequence[Any]], tuple[Any, ...] | None]


def make_converter(company: CompanyContext, unknown_codes: Counter[str], *, copy: bool = False) -> Converter:
    """A function turning one source row (the columns of ``sql.movements_query``) into a warehouse row
    (``COLUMNS`` order), or ``None`` when its document code is not one we load (counted in
    ``unknown_codes``). A missing article, date or quantity is a :class:`MovementError` naming the line.

    ``copy``: the row is bound for PostgreSQL ``COPY`` and its values may stay text (PostgreSQL parses
    and rounds them; rebuilding ``Decimal`` objects only to print them again was a third of the
    extraction's CPU). Otherwise values are typed (``int``, ``date``, rounded ``Decimal``). Written for
    speed: it runs once per line, a million times per big partition. "" is NULL (the query turns empty
    text into NULL, and the reader process writes NULL as "").
    """
    key, nit, year, code_, at = (
        company.company_year,
        company.company_nit,
        company.fiscal_year,
        company.company_code,
        company.extracted_at,
    )
    types = DOCUMENT_TYPES
    four, cent = FOUR_PLACES, CENT

    def convert(row: Sequence[Any]) -> tuple[Any, ...] | None:
        (
            line,
            kardex,
            code,
            prefix,
            number,
            fecha,
            article,
            article_name,
            bodega,
            bodega_name,
            party_nit,
            party_name,
            quantity,
            base,
            tax,
            net,
            discount,
            total,
            matid,
        ) = row
        doc_type = types.get(code)
        if doc_type is None:
            unknown_codes[code or "<empty>"] += 1
            return None
        if not article:
            raise MovementError(
                f"DEKARDEX line {line} (KARDEX {kardex}) references MATID {matid}, which is not in MATERIAL"
            )
        if fecha is None or fecha == "":
            raise MovementError(f"KARDEX {kardex} (line {line}) has no FECHA")
        if quantity is None or quantity == "":
            raise MovementError(f"DEKARDEX line {line} (KARDEX {kardex}) has no CANMAT")
        if copy:
            fecha = fecha[:10] if isinstance(fecha, str) else fecha
            total = total or "0"
        else:
            line, kardex = int(line), int(kardex)
            fecha = _date(fecha)
            quantity, base, tax, net, discount = (
                _number(quantity, four),
                _number(base, four),
                _number(tax, four),
                _number(net, four),
                _number(discount, four),
            )
            total = _number(total, cent) or Decimal("0.00")
            prefix, number = prefix or None, number or None
            bodega, bodega_name, party_nit, party_name = (
                bodega or None,
                bodega_name or None,
                party_nit or None,
                party_name or None,
            )
            article_name = article_name or None
        return (
            key,
            nit,
            year,
            code_,
            kardex,
            line,
            doc_type,
            code,
            prefix,
            number,
            fecha,
            article,
            article_name,
            bodega,
            bodega_name,
            party_nit,
            party_name,
            quantity,
            base,
            tax,
            net,
            discount,
            total,
            at,
        )

    return convert


def problem_row(fields: Sequence[str]) -> tuple[Any, ...]:
    """The source row (``sql.movements_query``'s columns) of a line the server flagged instead of formatting:
    ``fields`` are DEKARDEXID, KARDEXID, MATID, the 0/1 flags (article, FECHA, CANMAT present) and the code.
    Only what the converter checks is filled in, so it counts or reports the line as it would a typed one."""
    line, kardex, matid, present, code = fields
    article, fecha, quantity = (flag == "1" for flag in present)
    return (
        line,
        kardex,
        code or None,
        None,
        None,
        "present" if fecha else None,
        "present" if article else None,
        None,
        None,
        None,
        None,
        None,
        "0" if quantity else None,
        None,
        None,
        None,
        None,
        None,
        matid or None,
    )


def copy_affixes(company: CompanyContext) -> tuple[str, str]:
    """The CSV text before and after a server-formatted line (``sql.movement_lines_query``): the partition's
    constant columns, each quoted (whatever it holds), so ``prefix + line + suffix`` is one record in
    ``COLUMNS`` order."""

    def quoted(value: object) -> str:
        return '"' + str(value).replace('"', '""') + '"'

    constants = (company.company_year, company.company_nit, company.fiscal_year, company.company_code)
    return "\t".join(map(quoted, constants)) + "\t", "\t" + quoted(company.extracted_at.isoformat())


def _text_or_none(value: str) -> str | None:
    return value or None


_RECORD_TYPES: tuple[Callable[[str], Any], ...] = (
    int,  # kardex_id
    int,  # dekardex_id
    str,  # document_type
    str,  # document_code
    *(_text_or_none,) * 2,  # prefix, number
    dt.date.fromisoformat,  # movement_date
    str,  # article_code
    *(_text_or_none,) * 5,  # article_name … third_party_name
    *(lambda value: _number(value, FOUR_PLACES),) * 5,  # quantity … discount
    lambda value: _number(value, CENT),  # line_total
)
"""How :func:`typed_record` types ``COLUMNS[4:-1]``."""


def typed_record(record: Sequence[str], company: CompanyContext) -> tuple[Any, ...]:
    """A server-formatted record (``COLUMNS`` order, CSV fields, "" is NULL) as typed values, for warehouses
    loaded without ``COPY``: the same values PostgreSQL makes of the text."""
    values = (typed(value) for typed, value in zip(_RECORD_TYPES, record[4:-1], strict=True))
    return (
        company.company_year,
        company.company_nit,
        company.fiscal_year,
        company.company_code,
        *values,
        company.extracted_at,
    )
