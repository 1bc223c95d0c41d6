"""Pricing of a cession operation, in ``Decimal``.

discount = round(monto_total × tasa/100 × días/360), días = latest due date of the operation's
invoices − the operation date (a 360-day commercial year); payout = monto_total − discount. Rounded
once, half-up to cents, from the exact product (no pre-rounded daily rate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
YEAR_DAYS = 360


@dataclass(frozen=True)
class Pricing:
    dias: int
    monto_descuento: Decimal
    monto_a_desembolsar: Decimal


class PricingError(ValueError):
    """Terms that cannot be priced (no invoices, negative amounts, invoices already due)."""


def days_financed(fecha_operacion: dt.date, due_dates: Iterable[dt.date]) -> int:
    """Days from the operation date to the latest due date among its invoices."""
    dates = list(due_dates)
    if not dates:
        raise PricingError("an operation needs at least one invoice to be priced")
    return (max(dates) - fecha_operacion).days


def discount(monto_total: Decimal, tasa_descuento: Decimal, dias: int) -> Decimal:
    """round(monto_total × tasa/100 × días/360) half-up to cents."""
    monto_total, tasa_descuento = Decimal(monto_total), Decimal(tasa_descuento)
    if monto_total < 0:
        raise PricingError(f"monto_total must not be negative, got {monto_total}")
    if tasa_descuento < 0:
        raise PricingError(f"tasa_descuento must not be negative, got {tasa_descuento}")
    if dias <= 0:
        raise PricingError(f"the latest due date must come after the operation date (días = {dias})")
    exact = monto_total * tasa_descuento * dias / (100 * YEAR_DAYS)
    return exact.quantize(CENT, rounding=ROUND_HALF_UP)


def price(
    monto_total: Decimal, tasa_descuento: Decimal, fecha_operacion: dt.date, due_dates: Iterable[dt.date]
) -> Pricing:
    """Días, discount and payout of one operation."""
    dias = days_financed(fecha_operacion, due_dates)
    descuento = discount(monto_total, tasa_descuento, dias)
    total = Decimal(monto_total).quantize(CENT, rounding=ROUND_HALF_UP)
    return Pricing(dias=dias, monto_descuento=descuento, monto_a_desembolsar=total - descuento)


def reconcile(
    *,
    monto_total: Decimal,
    tasa_descuento: Decimal,
    fecha_operacion: dt.date,
    latest_due_date: dt.date | None,
    invoices_total: Decimal | None,
    stored_discount: Decimal,
    stored_payout: Decimal,
) -> str | None:
    """What is wrong with an operation's stored pricing (``None`` when it equals the formula)."""
    total = Decimal(monto_total).quantize(CENT, rounding=ROUND_HALF_UP)
    problems: list[str] = []
    try:
        due_dates = [latest_due_date] if latest_due_date else []
        expected = price(total, Decimal(tasa_descuento), fecha_operacion, due_dates)
    except PricingError as exc:
        problems.append(str(exc))
    else:
        got_discount = Decimal(stored_discount).quantize(CENT, rounding=ROUND_HALF_UP)
        got_payout = Decimal(stored_payout).quantize(CENT, rounding=ROUND_HALF_UP)
        if (got_discount, got_payout) != (expected.monto_descuento, expected.monto_a_desembolsar):
            problems.append(
                f"descuento {got_discount} vs {expected.monto_descuento}; "
                f"desembolso {got_payout} vs {expected.monto_a_desembolsar} ({expected.dias} días)"
            )
    if invoices_total is not None and Decimal(invoices_total).quantize(CENT, rounding=ROUND_HALF_UP) != total:
        problems.append(f"total {total} vs facturas {Decimal(invoices_total):.2f}")
    return "; ".join(problems) or None
