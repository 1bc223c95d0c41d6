"""Purchase recommendation rows of one NIT from its demand history and published forecasts (with bounds)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cartera_pipelines.defs.forecasting.policy import (
    QTY,
    PolicySettings,
    abc_classes,
    coefficient_of_variation,
    lead_time_demand,
    protection_sigma,
    reorder_point,
    safety_stock,
    sigma_from_bounds,
    xyz_class,
)

CENTS = Decimal("0.01")


def _article_rows(
    nit: str,
    article: str,
    months: list[Mapping[str, Any]],
    demand: list[float],
    settings: PolicySettings,
) -> dict[str, Any]:
    path = [Decimal(r["forecast_qty"]) for r in months]
    sigmas = [
        sigma_from_bounds(Decimal(r["forecast_qty"]), Decimal(r["upper_qty"]), settings.interval_width)
        for r in months
    ]
    protection = settings.lead_time_months + settings.review_period_months
    sigma = protection_sigma(sigmas, protection)
    lead = lead_time_demand(path, protection)
    safety = safety_stock(sigma, settings.service_level, 1.0)
    cv = coefficient_of_variation(demand)
    return {
        "nit": nit,
        "article_code": article,
        "xyz_class": xyz_class(cv, settings.x_cv, settings.y_cv, months=len(demand)),
        "cv": round(cv, 6) if cv is not None else None,
        "mean_monthly_demand": (sum(path, Decimal("0")) / len(path)).quantize(QTY, rounding=ROUND_HALF_UP),
        # the monthly σ of the first month (the one the bounds give directly)
        "demand_std": sigmas[0],
        "lead_time_demand": lead,
        "safety_stock": safety,
        "reorder_point": reorder_point(lead, safety),
        "order_qty": (lead - lead_time_demand(path, settings.lead_time_months)).quantize(QTY),
        "model": months[0]["model"],
        "segment": months[0].get("segment"),
    }


def recommendations(
    nit: str,
    history: Iterable[Mapping[str, Any]],
    forecasts: Iterable[Mapping[str, Any]],
    settings: PolicySettings,
    computed_at: dt.datetime,
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """``history``: demand_monthly rows of the last 12 observed months; ``forecasts``: demand_forecasts rows."""
    demand: dict[str, list[float]] = defaultdict(list)
    value: dict[str, Decimal] = defaultdict(lambda: Decimal("0"))
    names: dict[str, str | None] = {}
    for row in history:
        code = row["article_code"]
        demand[code].append(float(row["demand_qty"]))
        value[code] += Decimal(row["sales_value"]) - Decimal(row["returns_value"])
        names[code] = row.get("article_name") or names.get(code)
    by_article: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in forecasts:
        by_article[row["article_code"]].append(row)
    articles = sorted(by_article)
    classes = abc_classes([float(value[a]) for a in articles], settings.a_share, settings.b_share)
    fixed = {
        "service_level": Decimal(str(settings.service_level)).quantize(Decimal("0.0001")),
        "lead_time_months": Decimal(str(settings.lead_time_months)).quantize(CENTS, rounding=ROUND_HALF_UP),
        "review_period_months": Decimal(str(settings.review_period_months)).quantize(
            CENTS, rounding=ROUND_HALF_UP
        ),
        "computed_at": computed_at,
        "as_of": as_of,
    }
    rows = []
    for article, abc in zip(articles, classes, strict=True):
        months = sorted(by_article[article], key=lambda r: r["horizon"])
        row = _article_rows(nit, article, months, demand.get(article, []), settings)
        row.update(
            fixed,
            article_name=names.get(article),
            abc_class=abc,
            sales_value_12m=value[article].quantize(CENTS, rounding=ROUND_HALF_UP),
        )
        rows.append(row)
    return rows
