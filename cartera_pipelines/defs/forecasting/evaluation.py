"""Forecast accuracy: MAE, RMSE and MASE scaled by the in-sample seasonal-naive error."""

from __future__ import annotations

import numpy as np

SEASON = 12


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(actual, float) - np.asarray(predicted, float))))


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(actual, float) - np.asarray(predicted, float)) ** 2)))


def mase_scale(history: np.ndarray, season: int = SEASON) -> float:
    """Mean absolute error of the seasonal-naive forecast inside ``history`` (NaNs are before the start).

    With less than one season plus one month of history the one-step naive error is used instead.
    Returns NaN when the scale is zero or cannot be computed (MASE is then undefined).
    """
    values = np.asarray(history, float)
    values = values[~np.isnan(values)]
    lag = season if len(values) > season else 1
    if len(values) <= lag:
        return float("nan")
    scale = float(np.mean(np.abs(values[lag:] - values[:-lag])))
    return scale if scale > 0 else float("nan")


def mase(actual: np.ndarray, predicted: np.ndarray, scale: float) -> float:
    if not np.isfinite(scale) or scale <= 0:
        return float("nan")
    return mae(actual, predicted) / scale


def aggregate_mase(values: np.ndarray) -> float:
    """Mean MASE over the articles where it is defined (NaN when none is)."""
    values = np.asarray(values, float)
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if len(finite) else float("nan")
