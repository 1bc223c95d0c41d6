"""The seasonal-naive baseline: each month repeats the same month of the previous year."""

from __future__ import annotations

import numpy as np

from cartera_pipelines.defs.forecasting.evaluation import SEASON


def seasonal_naive(history: np.ndarray, horizon: int, season: int = SEASON) -> np.ndarray:
    """Forecast ``horizon`` months after ``history`` (one article; NaNs before its start).

    With less than a season of history, the last observed value is repeated (plain naive); with
    none at all, zeros.
    """
    values = np.asarray(history, float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.zeros(horizon)
    if len(values) < season:
        return np.full(horizon, values[-1])
    out = np.empty(horizon)
    extended = list(values)
    for h in range(horizon):
        out[h] = extended[len(extended) - season]
        extended.append(out[h])
    return out


def seasonal_naive_panel(demand: np.ndarray, horizon: int) -> np.ndarray:
    """Seasonal-naive forecasts for every article of a (articles, months) matrix."""
    return (
        np.vstack([seasonal_naive(row, horizon) for row in demand]) if len(demand) else np.zeros((0, horizon))
    )
