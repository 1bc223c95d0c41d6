"""Harmonic regression: level + linear trend + one yearly sine/cosine pair, least squares per article.

The shape Prophet fits for monthly sales (trend plus yearly Fourier terms), without its cost: one
small ridge-regularised normal equation per article, solved for every article at once. Articles with
fewer than ``min_months`` observed months before the origin get NaN (no forecast).
"""

from __future__ import annotations

import numpy as np

SEASON = 12
RIDGE = 1e-3


def _design(length: int, origin: int) -> np.ndarray:
    t = np.arange(length, dtype=float)
    angle = 2 * np.pi * t / SEASON
    # trend in years, centred on the origin, so the ridge pulls towards "no trend", not towards zero level
    return np.column_stack([np.ones(length), (t - origin) / SEASON, np.sin(angle), np.cos(angle)])


def harmonic_forecast(demand: np.ndarray, origin: int, horizon: int, min_months: int = 12) -> np.ndarray:
    """(articles, horizon) forecasts of the months from ``origin`` on, fitted on the columns before it."""
    past = demand[:, :origin]
    weight = (~np.isnan(past)).astype(float)
    x = _design(origin + horizon, origin)
    xp, xf = x[:origin], x[origin:]
    gram = np.einsum("nt,ti,tj->nij", weight, xp, xp) + RIDGE * np.eye(x.shape[1])
    moment = np.einsum("nt,ti->ni", weight * np.nan_to_num(past), xp)
    beta = np.linalg.solve(gram, moment[..., None])[..., 0]
    out = beta @ xf.T
    out[weight.sum(axis=1) < min_months] = np.nan
    return out
