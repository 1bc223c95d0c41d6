"""One global XGBoost model over all articles of a NIT, direct multi-horizon (see ``features``).

The trees learn corrections to a seasonal-index baseline (``base_margin``). Training rows are
(article, origin, horizon) whose target month lies before the cutoff and whose
article has at least one month before the origin; forecasting uses the cutoff as the origin.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from cartera_pipelines.defs.forecasting.demand import add_months
from cartera_pipelines.defs.forecasting.features import (
    FEATURE_NAMES,
    features_at,
    price_reference,
    series_scale,
)

_BASELINE_FEATURES = [
    FEATURE_NAMES.index(name) for name in ("seasonal_index_forecast", "seasonal_mean", "mean_12", "lag_1")
]


def baseline_margin(x: np.ndarray) -> np.ndarray:
    """The starting point the trees correct: the seasonal-index forecast, or the first of the seasonal
    mean, the 12-month mean and the last month that exists. Trees on a few thousand noisy rows are poor
    at passing a continuous feature through; starting from it, they only learn the corrections."""
    margin = np.zeros(len(x))
    missing = np.ones(len(x), dtype=bool)
    for column in _BASELINE_FEATURES:
        values = x[:, column]
        take = missing & np.isfinite(values)
        margin[take] = values[take]
        missing &= ~take
    return margin


DEFAULT_PARAMS: dict[str, Any] = {
    # Few, shallow trees: they correct a good baseline on noisy monthly data, more of them overfit.
    "n_estimators": 60,
    "max_depth": 3,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 20,
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
    horizon: int
    scale: np.ndarray
    price_ref: np.ndarray
    training_rows: int


def _month(months: list[dt.date], index: int) -> dt.date:
    return months[index] if index < len(months) else add_months(months[-1], index - len(months) + 1)


def _inputs(demand: np.ndarray, price: np.ndarray, cutoff: int, scale: np.ndarray, ref: np.ndarray):
    observed = demand[:, :cutoff]
    return (
        observed / scale[:, None],
        price[:, :cutoff] / ref[:, None],
        first_observed(observed),
        np.log1p(scale),
    )


def fit_xgboost(
    demand: np.ndarray,
    price: np.ndarray,
    months: list[dt.date],
    cutoff: int,
    horizon: int,
    params: dict[str, Any] | None = None,
    n_jobs: int = 1,
    seed: int = 0,
    max_rows: int | None = None,
) -> XgbFit:
    """Fit on columns ``< cutoff`` only, for horizons 1..``horizon``."""
    from xgboost import XGBRegressor

    scale = series_scale(demand[:, :cutoff], cutoff)
    ref = price_reference(price[:, :cutoff], cutoff)
    scaled, ratio, starts, log_scale = _inputs(demand, price, cutoff, scale, ref)
    xs, ys = [], []
    for origin in range(1, cutoff):
        for h in range(1, horizon + 1):
            target_index = origin + h - 1
            if target_index >= cutoff:
                break
            target = scaled[:, target_index]
            rows = (starts < origin) & np.isfinite(target)
            if rows.any():
                xs.append(
                    features_at(scaled, ratio, starts, log_scale, origin, h, months[target_index])[rows]
                )
                ys.append(target[rows])
    if not xs:
        raise ValueError("no training rows: every article has less than two months before the cutoff")
    model = XGBRegressor(
        **{**DEFAULT_PARAMS, **(params or {})}, n_jobs=n_jobs, random_state=seed, tree_method="hist"
    )
    x, y = np.vstack(xs), np.concatenate(ys)
    # Learn from the rows that look like forecast time (a seasonal baseline exists) when there are
    # enough of them; the early months with a makeshift baseline would teach the wrong corrections.
    seasonal = np.isfinite(x[:, _BASELINE_FEATURES[0]])
    if seasonal.sum() >= 200:
        x, y = x[seasonal], y[seasonal]
    if max_rows is not None and len(y) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), max_rows, replace=False))
        x, y = x[keep], y[keep]
    model.fit(x, y, base_margin=baseline_margin(x))
    return XgbFit(
        model=model, cutoff=cutoff, horizon=horizon, scale=scale, price_ref=ref, training_rows=len(y)
    )


def forecast_xgboost(fit: XgbFit, demand: np.ndarray, price: np.ndarray, months: list[dt.date]) -> np.ndarray:
    """(articles, horizon) forecasts for the months after ``fit.cutoff``, clipped at zero."""
    scaled, ratio, starts, log_scale = _inputs(demand, price, fit.cutoff, fit.scale, fit.price_ref)
    out = np.empty((scaled.shape[0], fit.horizon))
    for h in range(1, fit.horizon + 1):
        x = features_at(scaled, ratio, starts, log_scale, fit.cutoff, h, _month(months, fit.cutoff + h - 1))
        out[:, h - 1] = np.clip(fit.model.predict(x, base_margin=baseline_margin(x)), 0, None) * fit.scale
    return out
