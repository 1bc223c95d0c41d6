"""Purchase recommendation rows of one NIT from its demand history, forecasts and holdout errors."""

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
    reorder_point,
    safety_stock,
    xyz_class,
)

CENTS = Decimal("0.01")


def recommendations(
    nit: str,
    history: Iterable[Mapping[str, Any]],
    forecasts: Iterable[Mapping[str, Any]],
    backtest: Iterable[Mapping[str, Any]],
    settings: PolicySettings,
    computed_at: dt.datetime,
) -> list[dict[str, Any]]:
    """``history``: demand_monthly rows of the last 12 observed months; ``forecasts``: demand_forecasts
    rows; ``backtest``: demand_backtest rows (the chosen model's RMSE is the forecast error)."""
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
    error = {r["article_code"]: r["rmse"] for r in backtest if r["chosen"]}

    articles = sorted(by_article)
    classes = abc_classes([float(value[a]) for a in articles], settings.a_share, settings.b_share)
    rows = []
    for article, abc in zip(articles, classes, strict=True):
        months = sorted(by_article[article], key=lambda r: r["horizon"])
        path = [Decimal(r["forecast_qty"]) for r in months]
        std = _error_std(article, error, path, months)
        cv = coefficient_of_variation(demand.get(article, []))
        lead = lead_time_demand(path, settings.lead_time_months)
        safety = safety_stock(std, settings.service_level, settings.lead_time_months)
        rows.append(
            {
                "nit": nit,
                "article_code": article,
                "article_name": names.get(article),
                "abc_class": abc,
                "xyz_class": xyz_class(cv, settings.x_cv, settings.y_cv),
                "sales_value_12m": value[article].quantize(CENTS, rounding=ROUND_HALF_UP),
                "cv": round(cv, 6) if cv is not None else None,
                "mean_monthly_demand": (sum(path, Decimal("0")) / len(path)).quantize(
                    QTY, rounding=ROUND_HALF_UP
                ),
                "demand_std": std,
                "service_level": Decimal(str(settings.service_level)).quantize(Decimal("0.0001")),
                "lead_time_months": Decimal(str(settings.lead_time_months)).quantize(
                    CENTS, rounding=ROUND_HALF_UP
                ),
                "lead_time_demand": lead,
                "safety_stock": safety,
                "reorder_point": reorder_point(lead, safety),
                "model": months[0]["model"],
                "computed_at": computed_at,
            }
        )
    return rows


def _error_std(
    article: str, error: Mapping[str, float], path: list[Decimal], months: list[Mapping[str, Any]]
) -> Decimal:
    """The chosen model's holdout RMSE; for articles without a holdout, the forecast band's half-width
    (upper - forecast of the first month) — the same error the bounds were built from, in bound units."""
    if article in error and error[article] is not None:
        return Decimal(repr(float(error[article]))).quantize(QTY, rounding=ROUND_HALF_UP)
    first = months[0]
    return max(Decimal(first["upper_qty"]) - Decimal(first["forecast_qty"]), Decimal("0")).quantize(QTY)
