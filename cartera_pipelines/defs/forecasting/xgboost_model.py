"""One global XGBoost model over all articles of a NIT, forecasting month by month (recursive).

Training rows are (article, month t) with t before the cutoff and at least one month of history;
forecasts beyond the cutoff feed each predicted month back as the next month's lag, so nothing
observed at or after the cutoff is ever read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from cartera_pipelines.defs.forecasting.demand import add_months
from cartera_pipelines.defs.forecasting.features import features_at, price_reference, series_scale

DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "max_depth": 4,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5,
}


def first_observed(observed: np.ndarray) -> np.ndarray:
    """Index of each article's first month in ``observed`` (its width when it has none)."""
    present = ~np.isnan(observed)
    return np.where(present.any(axis=1), np.argmax(present, axis=1), observed.shape[1])


@dataclass
class XgbFit:
    model: Any
    """``xgboost.XGBRegressor`` (imported lazily)."""
    cutoff: int
    scale: np.ndarray
    price_ref: np.ndarray
    training_rows: int


def _prepare(demand: np.ndarray, price: np.ndarray, cutoff: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    observed = demand[:, :cutoff]
    scale = series_scale(observed, cutoff)
    ref = price_reference(price[:, :cutoff], cutoff)
    scaled = observed / scale[:, None]
    ratio = price[:, :cutoff] / ref[:, None]
    return scaled, ratio, scale, ref


def fit_xgboost(
    demand: np.ndarray,
    price: np.ndarray,
    months: list[dt.date],
    cutoff: int,
    params: dict[str, Any] | None = None,
    n_jobs: int = 1,
    seed: int = 0,
) -> XgbFit:
    """Fit on columns ``< cutoff`` only."""
    from xgboost import XGBRegressor

    scaled, ratio, scale, ref = _prepare(demand, price, cutoff)
    starts = first_observed(demand[:, :cutoff])
    log_scale = np.log1p(scale)
    xs, ys = [], []
    for t in range(1, cutoff):
        target = scaled[:, t]
        rows = (starts < t) & np.isfinite(target)
        if not rows.any():
            continue
        xs.append(features_at(scaled, ratio, starts, log_scale, months[t], t)[rows])
        ys.append(target[rows])
    if not xs:
        raise ValueError("no training rows: every article has less than two months before the cutoff")
    model = XGBRegressor(
        **{**DEFAULT_PARAMS, **(params or {})}, n_jobs=n_jobs, random_state=seed, tree_method="hist"
    )
    x, y = np.vstack(xs), np.concatenate(ys)
    model.fit(x, y)
    return XgbFit(model=model, cutoff=cutoff, scale=scale, price_ref=ref, training_rows=len(y))


def forecast_xgboost(
    fit: XgbFit, demand: np.ndarray, price: np.ndarray, months: list[dt.date], horizon: int
) -> np.ndarray:
    """(articles, horizon) forecasts for the months after ``fit.cutoff``, clipped at zero."""
    cutoff = fit.cutoff
    scaled = demand[:, :cutoff] / fit.scale[:, None]
    ratio = price[:, :cutoff] / fit.price_ref[:, None]
    starts = first_observed(demand[:, :cutoff])
    log_scale = np.log1p(fit.scale)
    n = scaled.shape[0]
    # Prices after the cutoff are unknown: the last known one is carried forward.
    last_ratio = ratio[:, -1:] if cutoff > 0 else np.full((n, 1), np.nan)
    ratio = np.hstack([ratio, np.repeat(last_ratio, horizon, axis=1)])
    scaled = np.hstack([scaled, np.full((n, horizon), np.nan)])
    out = np.empty((n, horizon))
    for h in range(horizon):
        t = cutoff + h
        month = months[t] if t < len(months) else add_months(months[-1], t - len(months) + 1)
        x = features_at(scaled, ratio, starts, log_scale, month, t)
        prediction = np.clip(fit.model.predict(x), 0, None)
        scaled[:, t] = prediction
        out[:, h] = prediction * fit.scale
    return out
