"""Features of the global XGBoost model: direct multi-horizon rows, built only from the past.

A row is (article, forecast origin ``o``, horizon ``h``): it predicts month ``o + h - 1`` from the
months *before* ``o`` only. The same features serve training (origins inside the training window,
targets before the cutoff) and forecasting (origin = the cutoff), so no month at or after the
origin ever reaches a feature, and predictions are never fed back as inputs.

Every series is divided by its mean over the training window (its *scale*), so one model learns the
shape of demand across articles of very different volume.
"""

import datetime as dt
import warnings

import numpy as np

FEATURE_NAMES = (
    "horizon",
    "last_year_same_month",
    "last_year_prev_month",
    "last_year_next_month",
    "two_years_same_month",
    "lag_1",
    "lag_2",
    "lag_3",
    "mean_3",
    "mean_6",
    "mean_12",
    "mean_12_a_year_before",
    "std_12",
    "seasonal_mean",
    "seasonal_index_forecast",
    "month_sin",
    "month_cos",
    "age",
    "price_ratio",
    "log_scale",
)


def series_scale(demand: np.ndarray, cutoff: int) -> np.ndarray:
    """Per-article mean absolute demand over columns ``< cutoff`` (1 when zero or empty)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanmean(np.abs(demand[:, :cutoff]), axis=1)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


def price_reference(price: np.ndarray, cutoff: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanmean(price[:, :cutoff], axis=1)
    return np.where(np.isfinite(ref) & (ref > 0), ref, np.nan)


def _column(past: np.ndarray, index: int) -> np.ndarray:
    """Column ``index`` of ``past`` when it exists (``0 <= index < width``), else NaN."""
    if 0 <= index < past.shape[1]:
        return past[:, index]
    return np.full(past.shape[0], np.nan)


def _mean(past: np.ndarray, start: int, stop: int) -> np.ndarray:
    start, stop = max(start, 0), min(stop, past.shape[1])
    if stop <= start:
        return np.full(past.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(past[:, start:stop], axis=1)


def _seasonal(past: np.ndarray, origin: int, target: int) -> list[np.ndarray]:
    """Ready-made seasonal estimates the trees can refine: the mean of the target's month in the past
    years, and that month's seasonal index (its value over its year's mean) times the current level."""
    same, years = [], []
    for back in (12, 24, 36):
        same.append(_column(past, target - back))
        # the 12 months centred on that past month, as far as they are observed before the origin
        years.append(_mean(past, target - back - 6, min(target - back + 6, origin)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        same_mean = np.nanmean(np.column_stack(same), axis=1)
        index = np.nanmean(np.column_stack([s / y for s, y in zip(same, years, strict=True)]), axis=1)
    level = _mean(past, origin - 12, origin)
    return [same_mean, np.where(np.isfinite(index), index, np.nan) * level]


def features_at(
    scaled: np.ndarray,
    price_ratio: np.ndarray,
    starts: np.ndarray,
    log_scale: np.ndarray,
    origin: int,
    horizon: int,
    target_month: dt.date,
) -> np.ndarray:
    """Feature rows (one per article) predicting column ``origin + horizon - 1`` from columns ``< origin``."""
    past = scaled[:, :origin]  # the only demand this function reads
    n = past.shape[0]
    target = origin + horizon - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        std_12 = np.nanstd(past[:, max(origin - 12, 0) :], axis=1) if origin > 0 else np.full(n, np.nan)
    angle = 2 * np.pi * (target_month.month - 1) / 12
    columns = [
        np.full(n, float(horizon)),
        _column(past, target - 12),
        _column(past, target - 13),
        _column(past, target - 11),
        _column(past, target - 24),
        _column(past, origin - 1),
        _column(past, origin - 2),
        _column(past, origin - 3),
        _mean(past, origin - 3, origin),
        _mean(past, origin - 6, origin),
        _mean(past, origin - 12, origin),
        _mean(past, origin - 24, origin - 12),
        std_12,
        *_seasonal(past, origin, target),
        np.full(n, np.sin(angle)),
        np.full(n, np.cos(angle)),
        (origin - starts).astype(float),
        _column(price_ratio[:, :origin], origin - 1),
        log_scale,
    ]
    return np.column_stack(columns)
