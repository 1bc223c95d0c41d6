"""Harmonic regression: level + linear trend + one yearly sine/cosine pair, per article, with the trend and
seasonal terms shrunk towards zero by an empirical-Bayes prior learnt across the NIT's articles.

The shape Prophet fits for monthly sales (trend plus yearly Fourier terms), without its cost; solved for
every article at once (small normal equations). Three steps:

1. a weighted least-squares fit per article, weights 1 / fitted level, normalised to mean 1 (Poisson-like
   noise: the variance grows with the level, so the quiet months are the better evidence);
2. the prior: for each non-level term, its coefficient relative to the article's level has a variance
   across articles, estimated as the mean squared relative coefficient minus the mean squared relative
   standard error (the part of the spread that is not estimation noise). Only "regular" articles inform
   it (no zero month before the origin): intermittent demand would swamp it with noise;
3. the same fit again with a ridge penalty per article and term of (residual variance) / (prior variance
   × level²): a noisy article's trend and season move towards zero, a clean article keeps its own.

On 30 noisy months the shrinkage is what keeps a 6-month trend extrapolation from running off. With fewer
than ``MIN_PRIOR_ARTICLES`` regular articles there is no prior and step 1's fit (a tiny ridge) is used.
Articles with fewer than ``min_months`` observed months before the origin get NaN (no forecast).
"""

from __future__ import annotations

import numpy as np

SEASON = 12
RIDGE = 1e-3
MIN_PRIOR_ARTICLES = 10
"""Regular articles needed to estimate the prior; with fewer, no shrinkage beyond ``RIDGE``."""
MIN_PRIOR_VARIANCE = 1e-8


def _design(length: int, origin: int) -> np.ndarray:
    t = np.arange(length, dtype=float)
    angle = 2 * np.pi * t / SEASON
    # trend in years, centred on the origin, so the ridge pulls towards "no trend", not towards zero level
    return np.column_stack([np.ones(length), (t - origin) / SEASON, np.sin(angle), np.cos(angle)])


def _solve(
    weight: np.ndarray, y: np.ndarray, x: np.ndarray, penalty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, Gram matrices) of the per-article weighted ridge fits."""
    gram = np.einsum("nt,ti,tj->nij", weight, x, x) + penalty
    moment = np.einsum("nt,ti->ni", weight * y, x)
    return np.linalg.solve(gram, moment[..., None])[..., 0], gram


def prior_variances(relative: np.ndarray, relative_se2: np.ndarray) -> np.ndarray:
    """Per term: the variance of the relative coefficients across articles that is not estimation noise
    (mean square minus mean squared standard error), at least ``MIN_PRIOR_VARIANCE``.
    ``relative``/``relative_se2``: (articles, terms)."""
    return np.maximum(np.mean(relative**2, axis=0) - np.mean(relative_se2, axis=0), MIN_PRIOR_VARIANCE)


def harmonic_forecast(
    demand: np.ndarray, origin: int, horizon: int, min_months: int = 12, shrink: bool = True
) -> np.ndarray:
    """(articles, horizon) forecasts of the months from ``origin`` on, fitted on the columns before it
    (``shrink=False``: step 1's weighted fit only)."""
    past = demand[:, :origin]
    observed = ~np.isnan(past)
    y = np.nan_to_num(past)
    x = _design(origin + horizon, origin)
    xp, xf = x[:origin], x[origin:]
    n, k = len(past), x.shape[1]
    ridge = np.broadcast_to(RIDGE * np.eye(k), (n, k, k))
    beta, _ = _solve(observed.astype(float), y, xp, ridge)
    weight = observed / np.clip(np.abs(beta @ xp.T), 1.0, None)
    # relative weights (mean 1 over the observed months), so ``RIDGE`` stays negligible at any volume
    with np.errstate(all="ignore"):
        weight = np.nan_to_num(
            weight * observed.sum(axis=1, keepdims=True) / weight.sum(axis=1, keepdims=True)
        )
    beta, gram = _solve(weight, y, xp, ridge)
    months = observed.sum(axis=1)
    level = beta[:, 0]
    regular = (months >= min_months) & ~((y == 0) & observed).any(axis=1) & (level > 0)
    if shrink and regular.sum() >= MIN_PRIOR_ARTICLES:
        residual = (y - beta @ xp.T) * observed
        noise = np.sum(weight * residual**2, axis=1) / np.maximum(months - k, 1)
        se2 = noise[:, None] * np.einsum("nii->ni", np.linalg.inv(gram))
        safe = np.where(level > 0, level, 1.0)
        tau2 = prior_variances(
            (beta[regular, 1:] / safe[regular, None]), se2[regular, 1:] / safe[regular, None] ** 2
        )
        penalty = np.array(ridge)
        terms = np.arange(1, k)
        # shrink only where the level is positive (the prior is relative to it)
        strength = np.where(level[:, None] > 0, noise[:, None] / (tau2[None, :] * safe[:, None] ** 2), 0.0)
        penalty[:, terms, terms] += strength
        beta, _ = _solve(weight, y, xp, penalty)
    out = beta @ xf.T
    out[months < min_months] = np.nan
    return out
