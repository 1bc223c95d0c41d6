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
