"""The reorder policy: reorder point, safety stock, suggested order quantity and urgency rank.

Pure and typed (no Dagster, no I/O). Its input is one aggregated row per stock position (``sql.
read_reorder_inputs``); the arithmetic is ``Decimal``:

- daily demand σ: the population standard deviation of the product's net units per day over the 90
  days (days without sales count as 0), spread to a warehouse row by its share of the sales;
- safety stock = z(service level) × σ × √(lead time days);
- reorder point = velocity_90 × lead time + safety stock;
- an order is suggested when stock ≤ reorder point and the product sells: enough units, whole and
  rounded up, that the stock left when the order arrives (stock − velocity × lead time + order) covers
  ``target_coverage_days`` of sales plus the safety stock;
- slack = days to stockout − lead time (below 0: the stock runs out before an order could arrive); the
  rows needing an order are ranked by slack within each warehouse (1 = most urgent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import Any

WINDOW_DAYS = Decimal(90)
QUANTITY = Decimal("0.000001")
DAYS = Decimal("0.01")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Policy:
    service_level: float
    target_coverage_days: int
    default_lead_time_days: int

    @property
    def z(self) -> Decimal:
        """The standard normal quantile of the service level, to 4 decimals."""
        return Decimal(str(round(NormalDist().inv_cdf(self.service_level), 4)))


def daily_sigma(total: Decimal, squares: Decimal) -> Decimal:
    """Population standard deviation of daily net units over the window (zero-sale days count)."""
    mean = total / WINDOW_DAYS
    variance = squares / WINDOW_DAYS - mean * mean
    return variance.sqrt() if variance > 0 else Decimal(0)


def suggest(row: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
    """The suggestion for one stock position (without its rank)."""
    stock, velocity = Decimal(row["stock"]), Decimal(row["velocity_90"])
    measured = row["lead_time_days"]
    lead = Decimal(measured) if measured is not None else Decimal(policy.default_lead_time_days)
    sigma = daily_sigma(Decimal(row["demand_total"]), Decimal(row["demand_squares"])) * Decimal(row["share"])
    safety = (policy.z * sigma * lead.sqrt()).quantize(QUANTITY, ROUND_HALF_UP) if sigma > 0 else Decimal(0)
    safety = max(safety, Decimal(0))
    reorder_point = (velocity * lead + safety).quantize(QUANTITY, ROUND_HALF_UP)
    quantity = Decimal(0)
    days_to_stockout = slack = None
    if velocity > 0:
        days_to_stockout = (max(stock, Decimal(0)) / velocity).quantize(DAYS, ROUND_HALF_UP)
        slack = days_to_stockout - lead.quantize(DAYS, ROUND_HALF_UP)
        if stock <= reorder_point:
            target = velocity * (lead + policy.target_coverage_days) + safety
            quantity = max(Decimal(0), (target - stock).to_integral_value(ROUND_CEILING))
    return {
        "product_id": row["product_id"],
        "warehouse_id": row["warehouse_id"],
        "stock": stock,
        "velocity_90": velocity,
        "lead_time_days": lead.quantize(DAYS, ROUND_HALF_UP),
        "lead_time_source": "supplier" if measured is not None else "default",
        "safety_stock": safety,
        "reorder_point": reorder_point,
        "suggested_quantity": quantity,
        "suggested_value": (quantity * Decimal(row["unit_cost"])).quantize(CENT, ROUND_HALF_UP),
        "days_to_stockout": days_to_stockout,
        "slack_days": slack,
        "urgency_rank": None,
    }


def suggestions(rows: Iterable[Mapping[str, Any]], policy: Policy) -> list[dict[str, Any]]:
    """Every stock position's suggestion, the ones to order ranked by slack within their warehouse."""
    result = [suggest(row, policy) for row in rows]
    to_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in result:
        if item["suggested_quantity"] > 0:
            to_order[item["warehouse_id"]].append(item)
    for items in to_order.values():
        items.sort(key=lambda i: (i["slack_days"], -i["velocity_90"], i["product_id"]))
        for rank, item in enumerate(items, start=1):
            item["urgency_rank"] = rank
    return result


def at_risk(rows: Iterable[Mapping[str, Any]], warehouse_id: str, top: int) -> list[Mapping[str, Any]]:
    """The ``top`` most urgent suggestions of one warehouse (``*``: the products over all warehouses)."""
    ranked = [r for r in rows if r["warehouse_id"] == warehouse_id and r["urgency_rank"] is not None]
    return sorted(ranked, key=lambda r: r["urgency_rank"])[:top]
