"""Harmonic regression: level + linear trend + one yearly sine/cosine pair, per article, with the trend and
seasonal terms shrunk towards zero by an empirical-Bayes prior learnt across the NIT's articles.

The shape Prophet fits for monthly sales (trend plus yearly Fourier terms), without its cost; solved for
every article at once (small normal equations). Three steps:

1. a weighted least-squares fit per article, weights 1 / fitted level, normalised to mean 1 (Poisson-like
   noise: the variance grows with the level, so the quiet months are the better evidence);
2. the prior: for each non-level term, its coefficient relative to the article's level has a mean and a
   variance across articles (the NIT's common trend and season, and how much articles differ from it):
   the variance is the mean squared deviation minus the mean squared relative standard error (the part
   of the spread that is not estimation noise). Only "regular" articles inform it (no zero month before
   the origin): intermittent demand would swamp it with noise;
3. the same fit again with a ridge penalty per article and term of (residual variance) / (prior variance
   × level²) towards (prior mean × level): a noisy article's trend and season move towards the NIT's,
   a clean article keeps its own.

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


def prior_moments(relative: np.ndarray, relative_se2: np.ndarray) -> np.ndarray:
    """(2, terms): per term, the mean of the relative coefficients across articles, and their variance
    around it that is not estimation noise (mean squared deviation minus mean squared standard error, at
    least ``MIN_PRIOR_VARIANCE``). ``relative``/``relative_se2``: (articles, terms)."""
    mean = np.mean(relative, axis=0)
    spread = np.mean((relative - mean) ** 2, axis=0) - np.mean(relative_se2, axis=0)
    return np.stack([mean, np.maximum(spread, MIN_PRIOR_VARIANCE)])


def _weighted_fit(demand: np.ndarray, origin: int, horizon: int) -> tuple:
    """Step 1: (design before / after the origin, observed mask, y, weights, coefficients, Gram matrices,
    noise variance per article)."""
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
    residual = (y - beta @ xp.T) * observed
    noise = np.sum(weight * residual**2, axis=1) / np.maximum(observed.sum(axis=1) - k, 1)
    return xp, xf, observed, y, weight, beta, gram, noise


def harmonic_prior(demand: np.ndarray, origin: int, min_months: int = 12) -> np.ndarray | None:
    """The prior of the non-level terms (trend, sine, cosine) relative to the level, learnt on the regular
    articles of ``demand`` before ``origin``: (2, 3) means and variances (``prior_moments``); None with
    fewer than ``MIN_PRIOR_ARTICLES``."""
    _, _, observed, y, _, beta, gram, noise = _weighted_fit(demand, origin, 0)
    level = beta[:, 0]
    regular = (observed.sum(axis=1) >= min_months) & ~((y == 0) & observed).any(axis=1) & (level > 0)
    if regular.sum() < MIN_PRIOR_ARTICLES:
        return None
    se2 = noise[regular, None] * np.einsum("nii->ni", np.linalg.inv(gram[regular]))
    relative = beta[regular, 1:] / level[regular, None]
    return prior_moments(relative, se2[:, 1:] / level[regular, None] ** 2)


def harmonic_forecast(
    demand: np.ndarray,
    origin: int,
    horizon: int,
    min_months: int = 12,
    shrink: bool = True,
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """(articles, horizon) forecasts of the months from ``origin`` on, fitted on the columns before it.
    ``prior``: the term means and variances to shrink with (default: learnt from ``demand`` itself, see
    ``harmonic_prior``; the registered model passes its training's); ``shrink=False``: step 1 only."""
    xp, xf, observed, y, weight, beta, _, noise = _weighted_fit(demand, origin, horizon)
    if shrink and prior is None:
        prior = harmonic_prior(demand, origin, min_months)
    if shrink and prior is not None:
        mean, variance = np.asarray(prior)
        n, k = beta.shape
        level = beta[:, 0]
        safe = np.where(level > 0, level, 1.0)
        terms = np.arange(1, k)
        # per article and term: residual variance over prior variance (in the article's units); none where
        # the level is not positive (the prior is relative to it)
        strength = np.where(
            level[:, None] > 0, noise[:, None] / (variance[None, :] * safe[:, None] ** 2), 0.0
        )
        gram = np.einsum("nt,ti,tj->nij", weight, xp, xp) + RIDGE * np.eye(k)
        gram[:, terms, terms] += strength
        moment = np.einsum("nt,ti->ni", weight * y, xp)
        # towards the NIT's mean shape, scaled by the article's own level
        moment[:, 1:] += strength * mean[None, :] * safe[:, None]
        beta = np.linalg.solve(gram, moment[..., None])[..., 0]
    out = beta @ xf.T
    out[observed.sum(axis=1) < min_months] = np.nan
    return out
