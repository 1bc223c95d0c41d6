"""How good the published forecasts were, once the demand happened.

Every row of ``demand_forecast_history`` whose month is now in ``demand_monthly`` is scored against the
actual demand, grouped by training, horizon and segment (plus ``all``): MAE, the MAE of seasonal naive
on the same article-months (the demand of the same month a year earlier, as it was known when the
forecast was made), the value added over it (1 − MAE / naive MAE), bias and bounds coverage.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from cartera_pipelines.defs.forecasting.demand import add_months

ALL = "all"


def score(
    forecasts: Iterable[Mapping[str, Any]],
    actual: Mapping[tuple[str, dt.date], float],
    nit: str,
    scored_at: dt.datetime,
) -> list[dict[str, Any]]:
    """``forecasts``: demand_forecast_history rows; ``actual``: (article, month) -> demand."""
    groups: dict[tuple, list[tuple[float, float, float | None, bool]]] = defaultdict(list)
    for row in forecasts:
        y = actual.get((row["article_code"], row["month"]))
        if y is None:
            continue
        forecast = float(row["forecast_qty"])
        naive = actual.get((row["article_code"], add_months(row["month"], -12)))
        inside = float(row["lower_qty"]) <= y <= float(row["upper_qty"])
        for segment in (row["segment"], ALL):
            groups[(row["trained_at"], row["horizon"], segment)].append((forecast, y, naive, inside))
    rows = []
    for (trained_at, horizon, segment), values in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])
    ):
        errors = [abs(f - y) for f, y, _, _ in values]
        paired = [(abs(f - y), abs(n - y)) for f, y, n, _ in values if n is not None]
        naive_mae = sum(p[1] for p in paired) / len(paired) if paired else None
        ours_on_pairs = sum(p[0] for p in paired) / len(paired) if paired else None
        total = sum(y for _, y, _, _ in values)
        rows.append(
            {
                "nit": nit,
                "trained_at": trained_at,
                "horizon": horizon,
                "segment": segment,
                "articles": len(values),
                "mae": sum(errors) / len(errors),
                "mae_seasonal_naive": naive_mae,
                "value_added": 1 - ours_on_pairs / naive_mae if naive_mae else None,
                "bias": sum(f - y for f, y, _, _ in values) / total if total > 0 else None,
                "coverage": sum(1 for *_, inside in values if inside) / len(values),
                "scored_at": scored_at,
            }
        )
    return rows
