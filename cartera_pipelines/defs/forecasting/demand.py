"""Monthly demand per article: sales minus sales returns, zero-filled months, price and warehouse features.

Pure logic: the asset streams ``tns_inventory_movements`` already grouped by (article, year, month,
document type, warehouse) and hands the groups here. Every company-year of the NIT is pooled: the
groups carry no company-year at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

SALES = "FACTURA_VENTA"
RETURNS = "DEVOLUCION_VENTA"
DEMAND_DOCUMENT_TYPES = (SALES, RETURNS)

QTY_PLACES = Decimal("0.0001")
MONEY_PLACES = Decimal("0.01")
ZERO = Decimal("0")


@dataclass(frozen=True)
class MovementGroup:
    """Sum of movement lines of one article, month, document type and warehouse."""

    article_code: str
    article_name: str | None
    year: int
    month: int
    document_type: str
    warehouse_code: str | None
    quantity: Decimal
    value: Decimal


@dataclass
class _Month:
    sales_qty: Decimal = ZERO
    returns_qty: Decimal = ZERO
    sales_value: Decimal = ZERO
    returns_value: Decimal = ZERO
    sales_by_warehouse: dict[str, Decimal] = field(default_factory=dict)


def month_start(year: int, month: int) -> dt.date:
    return dt.date(year, month, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month from ``first`` to ``last`` inclusive (first days)."""
    months = []
    current = month_start(first.year, first.month)
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def q(value: Decimal, places: Decimal = QTY_PLACES) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_UP)


def monthly_demand(
    nit: str,
    groups: Iterable[MovementGroup],
    *,
    last_month: dt.date | None = None,
) -> Iterator[dict[str, object]]:
    """Rows of ``demand_monthly`` for one NIT.

    Each article runs from its first month with a sale or return to the NIT's last such month (or
    ``last_month`` when given: later months are dropped, e.g. the month in progress), every month
    present: months without movements are zeros (``zero_filled``), not gaps. Other document types are
    ignored. ``avg_unit_price`` and ``main_warehouse_code`` carry the last known value forward.
    """
    by_article: dict[str, dict[dt.date, _Month]] = {}
    names: dict[str, str | None] = {}
    for group in groups:
        if group.document_type not in DEMAND_DOCUMENT_TYPES:
            continue
        month = month_start(group.year, group.month)
        if last_month is not None and month > last_month:
            continue
        cell = by_article.setdefault(group.article_code, {}).setdefault(month, _Month())
        if group.article_name:
            names[group.article_code] = group.article_name
        else:
            names.setdefault(group.article_code, None)
        if group.document_type == SALES:
            cell.sales_qty += group.quantity
            cell.sales_value += group.value
            key = group.warehouse_code or ""
            cell.sales_by_warehouse[key] = cell.sales_by_warehouse.get(key, ZERO) + group.quantity
        else:
            cell.returns_qty += group.quantity
            cell.returns_value += group.value
    if not by_article:
        return
    end = max(max(months) for months in by_article.values())
    if last_month is not None:
        end = min(end, last_month)
    for article in sorted(by_article):
        months = by_article[article]
        price: Decimal | None = None
        main_warehouse: str | None = None
        for month in month_range(min(months), end):
            cell = months.get(month)
            if cell is None:
                cell, zero_filled = _Month(), True
            else:
                zero_filled = False
            if cell.sales_qty > 0:
                price = q(cell.sales_value / cell.sales_qty)
            selling = {w: v for w, v in cell.sales_by_warehouse.items() if v > 0}
            if selling:
                # Ties go to the smallest code so the result does not depend on input order.
                best = max(selling.values())
                main_warehouse = min(w for w, v in selling.items() if v == best) or None
            yield {
                "nit": nit,
                "article_code": article,
                "month": month,
                "article_name": names.get(article),
                "sales_qty": q(cell.sales_qty),
                "returns_qty": q(cell.returns_qty),
                "demand_qty": q(cell.sales_qty - cell.returns_qty),
                "sales_value": q(cell.sales_value, MONEY_PLACES),
                "returns_value": q(cell.returns_value, MONEY_PLACES),
                "avg_unit_price": price,
                "warehouse_count": len([w for w in selling if w]),
                "main_warehouse_code": main_warehouse,
                "zero_filled": zero_filled,
            }
