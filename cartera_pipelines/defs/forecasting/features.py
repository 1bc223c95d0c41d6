"""Features of the global XGBoost model, built only from months before the one being predicted.

Every series is divided by its mean over the training window (its *scale*), so one model learns the
shape of demand across articles of very different volume. ``features_at(…, t)`` reads columns
``< t`` only: the target month itself (or anything after it) never reaches a feature.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np

LAGS = (1, 2, 3, 4, 6, 12, 24)
WINDOWS = (3, 6, 12)
FEATURE_NAMES = (
    [f"lag_{lag}" for lag in LAGS]
    + [f"mean_{w}" for w in WINDOWS]
    + ["std_6", "same_month_last_year_vs_mean_12", "month_sin", "month_cos", "month", "age", "price_ratio", "log_scale"]
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


def features_at(
    scaled: np.ndarray,
    price_ratio: np.ndarray,
    starts: np.ndarray,
    log_scale: np.ndarray,
    month: dt.date,
    t: int,
) -> np.ndarray:
    """Feature rows (one per article) for predicting column ``t`` from columns ``< t``."""
    n = scaled.shape[0]
    past = scaled[:, :t]
    columns: list[np.ndarray] = []
    for lag in LAGS:
        columns.append(past[:, t - lag] if t - lag >= 0 else np.full(n, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for window in WINDOWS:
            columns.append(np.nanmean(past[:, max(0, t - window) :], axis=1) if t > 0 else np.full(n, np.nan))
        columns.append(np.nanstd(past[:, max(0, t - 6) :], axis=1) if t > 0 else np.full(n, np.nan))
        mean_12 = columns[len(LAGS) + 2]
        last_year = past[:, t - 12] if t >= 12 else np.full(n, np.nan)
        columns.append(last_year - mean_12)
    angle = 2 * np.pi * (month.month - 1) / 12
    columns += [np.full(n, np.sin(angle)), np.full(n, np.cos(angle)), np.full(n, float(month.month))]
    columns.append((t - starts).astype(float))
    columns.append(price_ratio[:, t - 1] if t > 0 else np.full(n, np.nan))
    columns.append(log_scale)
    return np.column_stack(columns)
