"""Forecast errors that can be compared across articles: scaled per article, never mixed with units.

- MASE = MAE / the article's in-sample naive MAE: the seasonal (lag 12) naive when the history before
  the cutoff has at least 24 months, else the lag-1 naive. RMSSE likewise with squared errors.
  An article whose scale is zero (a flat history) has no MASE: it is left out, never replaced by an
  unscaled error.
- NIT aggregates are scale-free: the geometric mean over articles of the relative MAE (our MAE over the
  seasonal naive's on the same months), the mean RMSSE, and the bias (sum of errors over sum of actuals).

Every function takes (articles, horizon) arrays; NaN means "not available" and is skipped.
"""

from __future__ import annotations

import warnings

import numpy as np

SEASON = 12
SEASONAL_SCALE_MONTHS = 24
RATIO_CLIP = 100.0


def naive_scales(history: np.ndarray, season: int = SEASON) -> tuple[np.ndarray, np.ndarray]:
    """(MAE scale, RMSE scale) per article of ``history`` (NaN before its start): the in-sample errors
    of the seasonal naive with ≥ 24 months, else of the lag-1 naive; NaN when zero or undefined."""
    months = (~np.isnan(history)).sum(axis=1)
    seasonal = np.abs(history[:, season:] - history[:, :-season]) if history.shape[1] > season else None
    lag1 = np.abs(history[:, 1:] - history[:, :-1])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mae1, rmse1 = np.nanmean(lag1, axis=1), np.sqrt(np.nanmean(lag1**2, axis=1))
        if seasonal is not None:
            mae12, rmse12 = np.nanmean(seasonal, axis=1), np.sqrt(np.nanmean(seasonal**2, axis=1))
        else:
            mae12 = rmse12 = np.full(len(history), np.nan)
    use_seasonal = months >= SEASONAL_SCALE_MONTHS
    mae_scale = np.where(use_seasonal, mae12, mae1)
    rmse_scale = np.where(use_seasonal, rmse12, rmse1)
    bad = ~(np.isfinite(mae_scale) & (mae_scale > 0))
    mae_scale[bad] = np.nan
    rmse_scale[bad] = np.nan
    return mae_scale, rmse_scale


def mae(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-article MAE over the horizon (NaN when any month is missing)."""
    return np.mean(np.abs(actual - predicted), axis=-1)


def rmse(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((actual - predicted) ** 2, axis=-1))


def geometric_mean_ratio(ours: np.ndarray, reference: np.ndarray) -> float:
    """Geometric mean over articles of ours / reference (both errors of the same article, same months).

    Articles where the reference made no error at all are left out: a ratio to zero has no scale (a run
    of zeros forecast as zero says nothing about the model). Ratios are clipped to [1/100, 100].
    """
    ours, reference = np.asarray(ours, float), np.asarray(reference, float)
    keep = np.isfinite(ours) & np.isfinite(reference) & (reference > 0)
    if not keep.any():
        return float("nan")
    ratio = np.clip(ours[keep] / reference[keep], 1 / RATIO_CLIP, RATIO_CLIP)
    return float(np.exp(np.mean(np.log(ratio))))


def pooled_ratio(ours: np.ndarray, reference: np.ndarray) -> float:
    """Root of Σ ours² over Σ reference² (scaled errors such as RMSSE), over the articles where both exist:
    the pooled mean squared error ratio, in which a zero forecast pays for the demand it misses."""
    keep = np.isfinite(ours) & np.isfinite(reference)
    total = float(np.sum(reference[keep] ** 2))
    return float(np.sqrt(np.sum(ours[keep] ** 2) / total)) if keep.any() and total > 0 else float("nan")


def finite_mean(values: np.ndarray) -> float:
    values = np.asarray(values, float)
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if len(finite) else float("nan")


def bias(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Sum of (forecast − actual) over the sum of actuals, over the months where both exist."""
    keep = np.isfinite(actual) & np.isfinite(predicted)
    total = float(np.sum(actual[keep]))
    return float(np.sum(predicted[keep] - actual[keep]) / total) if total > 0 else float("nan")


def mase_per_horizon(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray) -> list[float]:
    """Mean over articles of |error| / scale, one value per horizon month."""
    with np.errstate(all="ignore"):
        scaled = np.abs(actual - predicted) / scale[:, None]
    return [finite_mean(scaled[:, h]) for h in range(scaled.shape[1])]


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> list[float]:
    """Share of the (article, month) actuals inside [lower, upper], per horizon month."""
    keep = np.isfinite(actual) & np.isfinite(lower) & np.isfinite(upper)
    inside = (actual >= lower - 1e-9) & (actual <= upper + 1e-9)
    return [
        float(inside[keep[:, h], h].mean()) if keep[:, h].any() else float("nan")
        for h in range(actual.shape[1])
    ]
