"""Inventory movements: document-type mapping and the row conversion (pure, no I/O; the source query is in
``sql.py``)."""

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


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise MovementError(f"float value {value!r} where an exact decimal was expected")
    return Decimal(str(value))


def _text_converter(
    company: CompanyContext, unknown_codes: Counter[str]
) -> Callable[[Sequence[Any]], tuple[Any, ...] | None]:
    """The converter for Firebird rows that crossed from the reader process as CSV text, bound for
    PostgreSQL ``COPY`` ("" is NULL: the query already turns empty text into NULL).

    Numbers and the date stay text: PostgreSQL parses them exactly, and assigning ``line_total`` to
    NUMERIC(18,2) rounds ties away from zero, the same rule as ``ROUND_HALF_UP``. Rebuilding ``Decimal``
    objects here only to print them again was a third of the extraction's CPU.
    """
    cy, nit, year, code_, at = (
        company.company_year,
        company.company_nit,
        company.fiscal_year,
        company.company_code,
        company.extracted_at,
    )
    types = DOCUMENT_TYPES

    def convert(row: Sequence[Any]) -> tuple[Any, ...] | None:
        (
            dk,
            k,
            code,
            prefix,
            number,
            fecha,
            art,
            art_name,
            bodega,
            bodega_name,
            ter_nit,
            ter_name,
            qty,
            base,
            tax,
            net,
            disc,
            total,
            matid,
        ) = row
        doc_type = types.get(code)
        if doc_type is None:
            unknown_codes[code or "<empty>"] += 1
            return None
        if not art:
            raise MovementError(
                f"DEKARDEX line {dk} (KARDEX {k}) references MATID {matid}, which is not in MATERIAL"
            )
        if not fecha:
            raise MovementError(f"KARDEX {k} (line {dk}) has no FECHA")
        if not qty:
            raise MovementError(f"DEKARDEX line {dk} (KARDEX {k}) has no CANMAT")
        return (
            cy,
            nit,
            year,
            code_,
            k,
            dk,
            doc_type,
            code,
            prefix,
            number,
            fecha[:10],
            art,
            art_name,
            bodega,
            bodega_name,
            ter_nit,
            ter_name,
            qty,
            base,
            tax,
            net,
            disc,
            total or "0",
            at,
        )

    return convert


def make_converter(
    company: CompanyContext, driver: str, unknown_codes: Counter[str]
) -> Callable[[Sequence[Any]], tuple[Any, ...] | None]:
    """A function turning one source row into a warehouse row (``COLUMNS`` order), or ``None`` when
    its document code is not one we load (counted in ``unknown_codes``).

    Written for speed (it runs once per line, a million times per big partition): no per-value
    dispatch for Firebird, whose driver already returns ``Decimal`` and ``date``.
    """
    cy, nit, year, code_, at = (
        company.company_year,
        company.company_nit,
        company.fiscal_year,
        company.company_code,
        company.extracted_at,
    )
    types = DOCUMENT_TYPES
    if driver == "csv":
        return _text_converter(company, unknown_codes)
    sqlite = driver == "sqlite"
    fromiso = dt.date.fromisoformat

    def convert(row: Sequence[Any]) -> tuple[Any, ...] | None:
        (
            dk,
            k,
            code,
            prefix,
            number,
            fecha,
            art,
            art_name,
            bodega,
            bodega_name,
            ter_nit,
            ter_name,
            qty,
            base,
            tax,
            net,
            disc,
            total,
            matid,
        ) = row
        doc_type = types.get(code)
        if doc_type is None:
            unknown_codes[code or "<empty>"] += 1
            return None
        if art is None:
            raise MovementError(
                f"DEKARDEX line {dk} (KARDEX {k}) references MATID {matid}, which is not in MATERIAL"
            )
        if sqlite:
            fecha = fromiso(fecha[:10]) if fecha is not None else None
            qty, base, tax, net, disc, total = (
                _decimal(qty),
                _decimal(base),
                _decimal(tax),
                _decimal(net),
                _decimal(disc),
                _decimal(total),
            )
        if fecha is None:
            raise MovementError(f"KARDEX {k} (line {dk}) has no FECHA")
        if qty is None:
            raise MovementError(f"DEKARDEX line {dk} (KARDEX {k}) has no CANMAT")
        total = Decimal(0) if total is None else total.quantize(CENT, ROUND_HALF_UP)
        return (
            cy,
            nit,
            year,
            code_,
            k,
            dk,
            doc_type,
            code,
            prefix,
            number,
            fecha,
            art,
            art_name,
            bodega,
            bodega_name,
            ter_nit,
            ter_name,
            qty,
            base,
            tax,
            net,
            disc,
            total,
            at,
        )

    return convert
