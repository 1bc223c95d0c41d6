"""Inventory policy per article: ABC by sales value, XYZ by variability, safety stock, reorder point.

- ABC: articles sorted by net sales value (last 12 months); an article is A while the cumulative share
  *before* it is below ``a_share`` (so the article that crosses the line is still A), B below
  ``b_share``, C after that. Articles with no positive value are C.
- XYZ: coefficient of variation (population std / mean of monthly demand, last 12 months): X up to
  ``x_cv``, Y up to ``y_cv``, Z above or when the mean is not positive; ``N`` (new) when the article
  has fewer than 12 months of history (a CV of 1–3 months says nothing about stability).
- Protection period = lead time + review period (periodic review: an order placed now must last until
  the next order arrives). Its demand is the forecast summed over it (a fractional last month counts
  pro rata; beyond the horizon the last month repeats).
- σ per month is the one the bounds were built with: (upper − forecast) / z of the band (the lower
  bound may be clipped at zero, the upper never is). Safety stock = z(service level) ×
  sqrt(Σ σ_h² over the protection period). Reorder point (order-up-to level) = protection demand +
  safety stock; order quantity = forecast demand over one review period after the lead time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist

QTY = Decimal("0.0001")


@dataclass(frozen=True)
class PolicySettings:
    service_level: float = 0.95
    lead_time_months: float = 1.0
    review_period_months: float = 1.0
    interval_width: float = 0.8
    """Coverage of the published bounds (their half-width is z((1 + width) / 2) σ)."""
    a_share: float = 0.80
    b_share: float = 0.95
    x_cv: float = 0.5
    y_cv: float = 1.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.service_level < 1:
            raise ValueError(f"service_level must be in [0.5, 1), got {self.service_level}")
        if self.lead_time_months <= 0:
            raise ValueError(f"lead_time_months must be positive, got {self.lead_time_months}")
        if self.review_period_months < 0:
            raise ValueError(f"review_period_months must be >= 0, got {self.review_period_months}")
        if not 0 < self.a_share < self.b_share <= 1:
            raise ValueError(f"need 0 < a_share < b_share <= 1, got {self.a_share}, {self.b_share}")
        if not 0 <= self.x_cv < self.y_cv:
            raise ValueError(f"need 0 <= x_cv < y_cv, got {self.x_cv}, {self.y_cv}")


def abc_classes(values: Sequence[float], a_share: float = 0.80, b_share: float = 0.95) -> list[str]:
    total = sum(v for v in values if v > 0)
    classes = ["C"] * len(values)
    if total <= 0:
        return classes
    cumulative = 0.0
    for i in sorted(range(len(values)), key=lambda k: (-values[k], k)):
        if values[i] <= 0:
            break
        share_before = cumulative / total
        classes[i] = "A" if share_before < a_share else "B" if share_before < b_share else "C"
        cumulative += values[i]
    return classes


def coefficient_of_variation(demand: Sequence[float]) -> float | None:
    if not demand:
        return None
    mean = sum(demand) / len(demand)
    if mean <= 0:
        return None
    variance = sum((d - mean) ** 2 for d in demand) / len(demand)
    return math.sqrt(variance) / mean


NEW_MONTHS = 12


def xyz_class(cv: float | None, x_cv: float = 0.5, y_cv: float = 1.0, months: int = NEW_MONTHS) -> str:
    if months < NEW_MONTHS:
        return "N"
    if cv is None:
        return "Z"
    return "X" if cv <= x_cv else "Y" if cv <= y_cv else "Z"


def lead_time_demand(forecast: Sequence[Decimal], lead_time_months: float) -> Decimal:
    """Forecast demand over the lead time; beyond the forecast horizon the last month repeats."""
    if not forecast:
        return Decimal("0").quantize(QTY)
    remaining = Decimal(str(lead_time_months))
    total = Decimal("0")
    k = 0
    while remaining > 0:
        month = forecast[min(k, len(forecast) - 1)]
        part = min(remaining, Decimal("1"))
        total += month * part
        remaining -= part
        k += 1
    return total.quantize(QTY, rounding=ROUND_HALF_UP)


def _months(values: Sequence[Decimal], months: float) -> list[tuple[Decimal, Decimal]]:
    """(value, share of the month) over ``months`` months; beyond the sequence the last value repeats."""
    remaining, k, out = Decimal(str(months)), 0, []
    while remaining > 0 and values:
        part = min(remaining, Decimal("1"))
        out.append((values[min(k, len(values) - 1)], part))
        remaining -= part
        k += 1
    return out


def sigma_from_bounds(forecast: Decimal, upper: Decimal, interval_width: float = 0.8) -> Decimal:
    """The monthly σ the bounds were built with: (upper − forecast) / z((1 + width) / 2)."""
    z = Decimal(str(NormalDist().inv_cdf(0.5 + interval_width / 2)))
    return max((upper - forecast) / z, Decimal("0")).quantize(QTY, rounding=ROUND_HALF_UP)


def protection_sigma(sigmas: Sequence[Decimal], months: float) -> Decimal:
    """σ of the demand over ``months`` months: sqrt of the summed monthly variances (pro rata)."""
    variance = sum((s * s * part for s, part in _months(sigmas, months)), Decimal("0"))
    return variance.sqrt().quantize(QTY, rounding=ROUND_HALF_UP)


def safety_stock(error_std: Decimal, service_level: float, months: float = 1.0) -> Decimal:
    """z(service level) × σ over ``months`` months when every month has the same σ."""
    z = Decimal(str(NormalDist().inv_cdf(service_level)))
    value = z * error_std * Decimal(str(math.sqrt(months)))
    return max(value, Decimal("0")).quantize(QTY, rounding=ROUND_HALF_UP)


def reorder_point(lead_demand: Decimal, safety: Decimal) -> Decimal:
    return (lead_demand + safety).quantize(QTY, rounding=ROUND_HALF_UP)
