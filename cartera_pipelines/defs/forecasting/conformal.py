"""Forecast bounds calibrated on the cross-validation residuals (split conformal, per horizon).

Each article's residuals (actual − forecast of its chosen model on the CV windows) are divided by the
article's noise scale (its mean absolute month-to-month change before the origin), pooled per segment
and horizon, and their 10 % and 90 % quantiles (for an 80 % band) become the band around every
forecast of that segment and horizon, times the article's scale. Lower bounds are clipped at zero.
A segment with too few residuals borrows the pool of all segments. The holdout never takes part, so
coverage measured there is honest.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

MIN_RESIDUALS = 30


def noise_scale(demand: np.ndarray, stop: int) -> np.ndarray:
    """Per article: mean |y[t] − y[t−1]| over the months before ``stop``; the mean level when that is
    zero; 1 when both are zero or undefined."""
    block = demand[:, :stop]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        change = np.nanmean(np.abs(np.diff(block, axis=1)), axis=1) if block.shape[1] > 1 else None
        level = np.nanmean(np.abs(block), axis=1)
    scale = change if change is not None else np.full(len(block), np.nan)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, level)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


@dataclass(frozen=True)
class Calibration:
    """Quantiles of the scaled residuals: segment -> (lower, upper) arrays, one value per horizon."""

    width: float
    quantiles: dict[str, tuple[list[float], list[float]]]

    def bounds(
        self, forecast: np.ndarray, scale: np.ndarray, segments: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        lower, upper = np.empty_like(forecast), np.empty_like(forecast)
        for i, segment in enumerate(segments):
            q_low, q_high = self.quantiles.get(segment, self.quantiles["all"])
            lower[i] = forecast[i] + np.asarray(q_low) * scale[i]
            upper[i] = forecast[i] + np.asarray(q_high) * scale[i]
        lower = np.clip(np.minimum(lower, forecast), 0, None)
        upper = np.maximum(upper, forecast)
        return lower, upper


def calibrate(
    residuals: np.ndarray, segments: np.ndarray, width: float = 0.8, borrow: dict[str, str] | None = None
) -> Calibration:
    """``residuals``: (articles, origins, horizon) scaled residuals (NaN = none)."""
    alpha = (1 - width) / 2
    horizon = residuals.shape[2]

    def pool(rows: np.ndarray) -> tuple[list[float], list[float]] | None:
        values = residuals[rows]
        pooled = values[np.isfinite(values)]
        if len(pooled) < MIN_RESIDUALS:
            return None
        low, high = [], []
        for h in range(horizon):
            column = values[:, :, h].ravel()
            column = column[np.isfinite(column)]
            # too few for this horizon alone: every horizon's residuals together
            column = column if len(column) >= MIN_RESIDUALS else pooled
            low.append(float(np.quantile(column, alpha)))
            high.append(float(np.quantile(column, 1 - alpha)))
        return low, high

    everything = pool(np.ones(len(segments), dtype=bool)) or ([0.0] * horizon, [0.0] * horizon)
    quantiles = {"all": everything}
    for segment in sorted(set(segments.tolist())):
        found = pool(segments == segment)
        if found is not None:
            quantiles[segment] = found
    for segment, source in (borrow or {}).items():
        if segment not in quantiles and source in quantiles:
            quantiles[segment] = quantiles[source]
    return Calibration(width, quantiles)
