"""Harmonic regression: level + linear trend + yearly sine/cosine pairs, per article, with the trend and
seasonal terms shrunk towards the NIT's mean shape by an empirical-Bayes prior learnt across its articles.

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

How many yearly harmonics (``pairs``: 1 = one smooth sine, 6 = a free monthly shape) and how fast older
months lose weight (``discount``: a month weighs ``discount`` × the next one; 1 = all months alike) are
chosen per NIT on the cross-validation windows only (``choose_form``): one sine fits smooth seasons with
few parameters, but real sales seasons are often sharp (a December peak, a January drop); a straight
trend over three years fits a steady article, but real sales drift and turn, and then the recent months
say more about the level.
"""

from __future__ import annotations

import numpy as np

from cartera_pipelines.defs.forecasting.evaluation import mae, naive_scales

SEASON = 12
PAIRS = (1, 2, 3, 4, 6)
"""Numbers of yearly harmonics ``choose_form`` tries (6 is every monthly frequency: its sine is zero at
whole months, so it adds only the cosine)."""
DISCOUNTS = (1.0, 0.97, 0.94, 0.9)
"""Weights of a month relative to the next one ``choose_form`` tries (half-lives ∞, 23, 11, 7 months)."""
FORM_SAMPLE = 1000
"""At most this many regular articles (evenly spaced) judge the form (harmonics, discount)."""
RIDGE = 1e-3
MIN_PRIOR_ARTICLES = 10
"""Regular articles needed to estimate the prior; with fewer, no shrinkage beyond ``RIDGE``."""
MIN_PRIOR_VARIANCE = 1e-8


def _design(length: int, origin: int, pairs: int = 1) -> np.ndarray:
    t = np.arange(length, dtype=float)
    # trend in years, centred on the origin, so the ridge pulls towards "no trend", not towards zero level
    columns = [np.ones(length), (t - origin) / SEASON]
    for k in range(1, pairs + 1):
        angle = 2 * np.pi * k * t / SEASON
        columns += [np.cos(angle)] if 2 * k == SEASON else [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns)


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


def _weighted_fit(
    demand: np.ndarray, origin: int, horizon: int, pairs: int = 1, discount: float = 1.0
) -> tuple:
    """Step 1: (design before / after the origin, observed mask, y, weights, coefficients, Gram matrices,
    noise variance per article)."""
    past = demand[:, :origin]
    observed = ~np.isnan(past)
    y = np.nan_to_num(past)
    x = _design(origin + horizon, origin, pairs)
    xp, xf = x[:origin], x[origin:]
    n, k = len(past), x.shape[1]
    ridge = np.broadcast_to(RIDGE * np.eye(k), (n, k, k))
    recency = observed * discount ** np.arange(origin - 1, -1, -1, dtype=float)
    beta, _ = _solve(recency, y, xp, ridge)
    weight = recency / np.clip(np.abs(beta @ xp.T), 1.0, None)
    # relative weights (mean 1 over the observed months), so ``RIDGE`` stays negligible at any volume
    with np.errstate(all="ignore"):
        weight = np.nan_to_num(
            weight * observed.sum(axis=1, keepdims=True) / weight.sum(axis=1, keepdims=True)
        )
    beta, gram = _solve(weight, y, xp, ridge)
    residual = (y - beta @ xp.T) * observed
    noise = np.sum(weight * residual**2, axis=1) / np.maximum(observed.sum(axis=1) - k, 1)
    return xp, xf, observed, y, weight, beta, gram, noise


def _regular(demand: np.ndarray, origin: int, min_months: int) -> np.ndarray:
    """Articles with at least ``min_months`` observed months before ``origin`` and no zero among them."""
    past = demand[:, :origin]
    observed = ~np.isnan(past)
    return (observed.sum(axis=1) >= min_months) & ~((past == 0) & observed).any(axis=1)


def harmonic_prior(
    demand: np.ndarray, origin: int, min_months: int = 12, pairs: int = 1, discount: float = 1.0
) -> np.ndarray | None:
    """The prior of the non-level terms (trend, sines, cosines) relative to the level, learnt on the
    regular articles of ``demand`` before ``origin``: (2, terms) means and variances (``prior_moments``);
    None with fewer than ``MIN_PRIOR_ARTICLES``."""
    *_, beta, gram, noise = _weighted_fit(demand, origin, 0, pairs, discount)
    return _prior_of_fit(demand, origin, min_months, beta, gram, noise)


def _prior_of_fit(
    demand: np.ndarray, origin: int, min_months: int, beta: np.ndarray, gram: np.ndarray, noise: np.ndarray
) -> np.ndarray | None:
    """:func:`harmonic_prior` from step 1's fit (coefficients, Gram matrices, noise variances)."""
    level = beta[:, 0]
    regular = _regular(demand, origin, min_months) & (level > 0)
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
    pairs: int = 1,
    discount: float = 1.0,
) -> np.ndarray:
    """(articles, horizon) forecasts of the months from ``origin`` on, fitted on the columns before it.
    ``prior``: the term means and variances to shrink with (default: learnt from ``demand`` itself, see
    ``harmonic_prior``; the registered model passes its training's); ``shrink=False``: step 1 only;
    ``pairs``, ``discount``: the form (see ``choose_form``)."""
    xp, xf, observed, y, weight, beta, gram, noise = _weighted_fit(demand, origin, horizon, pairs, discount)
    if shrink and prior is None:  # learnt from this very fit (the months before the origin are the same)
        prior = _prior_of_fit(demand, origin, min_months, beta, gram, noise)
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
        gram[:, terms, terms] += strength  # step 1's weighted Gram matrices, now with the prior's ridge
        moment = np.einsum("nt,ti->ni", weight * y, xp)
        # towards the NIT's mean shape, scaled by the article's own level
        moment[:, 1:] += strength * mean[None, :] * safe[:, None]
        beta = np.linalg.solve(gram, moment[..., None])[..., 0]
    out = beta @ xf.T
    out[observed.sum(axis=1) < min_months] = np.nan
    return out


def _cv_errors(
    sample: np.ndarray, origins: tuple[int, ...], horizon: int, min_months: int, forms: list
) -> np.ndarray:
    """(forms, articles, origins) MASE of each form over the windows from ``origins``."""
    scales = [naive_scales(sample[:, :origin])[0] for origin in origins]
    errors = []
    for pairs, discount in forms:
        per_origin = []
        for origin, scale in zip(origins, scales, strict=True):
            forecast = harmonic_forecast(sample, origin, horizon, min_months, pairs=pairs, discount=discount)
            with np.errstate(all="ignore"):
                per_origin.append(mae(sample[:, origin : origin + horizon], forecast) / scale)
        errors.append(np.stack(per_origin, axis=1))
    return np.stack(errors)


def choose_form(
    demand: np.ndarray, origins: tuple[int, ...], horizon: int, min_months: int = 12
) -> tuple[int, float]:
    """(pairs of ``PAIRS``, discount of ``DISCOUNTS``) judged on the windows from ``origins`` (the
    cross-validation ones: never the holdout), on the regular articles (at most ``FORM_SAMPLE``, evenly
    spaced), the same articles for every form; (1, 1.0) when no article can judge.

    First the pairs with the lowest mean MASE, all months alike (on a tie, fewer); then the discount by
    the one-standard-error rule: the least discount whose mean MASE is within one standard error (of its
    paired difference) of the best discount's — discounting only where it wins by more than the noise."""
    rows = np.flatnonzero(_regular(demand, min(origins), min_months))
    if len(rows) == 0:
        return PAIRS[0], DISCOUNTS[0]
    sample = demand[rows[np.linspace(0, len(rows) - 1, min(len(rows), FORM_SAMPLE)).astype(int)]]
    by_pairs = _cv_errors(sample, origins, horizon, min_months, [(p, DISCOUNTS[0]) for p in PAIRS])
    judged = np.isfinite(by_pairs).all(axis=(0, 2))
    if not judged.any():
        return PAIRS[0], DISCOUNTS[0]
    pairs = PAIRS[int(np.argmin(by_pairs[:, judged].mean(axis=(1, 2))))]
    by_discount = _cv_errors(sample[judged], origins, horizon, min_months, [(pairs, d) for d in DISCOUNTS])
    by_discount = by_discount.reshape(len(DISCOUNTS), -1)
    if not np.isfinite(by_discount).all():
        return pairs, DISCOUNTS[0]
    difference = by_discount - by_discount[int(np.argmin(by_discount.mean(axis=1)))]
    standard_error = difference.std(axis=1) / np.sqrt(difference.shape[1])
    return pairs, DISCOUNTS[int(np.flatnonzero(difference.mean(axis=1) <= standard_error + 1e-12)[0])]
