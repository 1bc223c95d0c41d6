"""The harmonic regression: exact on clean series, shrunk on noisy ones, one prior for the whole panel."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cartera_pipelines.defs.forecasting.harmonic import (
    MIN_PRIOR_VARIANCE,
    choose_form,
    harmonic_forecast,
    harmonic_prior,
    prior_moments,
)


def clean_panel(n: int, months: int, seed: int) -> np.ndarray:
    """(n, months) exact level + trend + yearly sine: the model's own shape, no noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    level = rng.uniform(20, 200, n)[:, None]
    slope = rng.normal(0, 0.01, n)[:, None] * level
    amplitude = rng.uniform(0.1, 0.6, n)[:, None] * level
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    return level + slope * t + amplitude * np.sin(2 * np.pi * t / 12 + phase)


def test_a_clean_series_is_forecast_exactly():
    demand = clean_panel(30, 36, seed=1)
    forecast = harmonic_forecast(demand, 30, 6)
    np.testing.assert_allclose(forecast, demand[:, 30:], rtol=1e-3)


def test_articles_shorter_than_min_months_get_no_forecast():
    demand = clean_panel(12, 36, seed=2)
    demand[0, :25] = np.nan  # 5 months before the origin
    forecast = harmonic_forecast(demand, 30, 6)
    assert np.isnan(forecast[0]).all()
    assert np.isfinite(forecast[1:]).all()


def test_shrinkage_keeps_noise_from_becoming_a_trend():
    # flat Poisson demand: any fitted trend or season is noise; the prior pulls it back towards the level
    rng = np.random.default_rng(3)
    level = rng.uniform(5, 60, 200)[:, None]
    demand = rng.poisson(level * np.ones((1, 36))).astype(float)
    shrunk = harmonic_forecast(demand, 30, 6)
    raw = harmonic_forecast(demand, 30, 6, shrink=False)
    error = lambda f: np.mean(np.abs(f - level) / level)  # noqa: E731
    assert error(shrunk) < 0.8 * error(raw)


def test_prior_is_the_mean_shape_and_the_spread_beyond_estimation_noise():
    relative = np.array([[0.3, 0.3], [0.1, -0.3], [0.3, 0.3], [0.1, -0.3]])
    se2 = np.array([[0.0, 0.2], [0.0, 0.2], [0.0, 0.2], [0.0, 0.2]])
    np.testing.assert_allclose(
        prior_moments(relative, se2), [[0.2, 0.0], [0.01, MIN_PRIOR_VARIANCE]], atol=1e-12
    )


def test_a_shared_season_is_learnt_across_articles():
    """Articles of a NIT peak in the same months: the noisy ones borrow the common shape."""
    rng = np.random.default_rng(6)
    n, t = 200, np.arange(36)
    level = rng.uniform(5, 60, n)[:, None]
    expected = level * (1 + 0.4 * np.sin(2 * np.pi * t / 12 + 1.0 + rng.normal(0, 0.2, (n, 1))))
    demand = rng.poisson(expected * (1 + rng.normal(0, 0.25, (n, 36))).clip(0)).astype(float)
    error = lambda f: np.mean(np.abs(f - expected[:, 30:]) / level)  # noqa: E731
    assert error(harmonic_forecast(demand, 30, 6)) < 0.9 * error(
        harmonic_forecast(demand, 30, 6, shrink=False)
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), origin=st.integers(12, 34))
def test_each_article_is_forecast_from_the_panel_not_from_its_place_in_it(seed, n, origin):
    """Whatever the panel: finite forecasts for articles with ≥ 12 months, and the same forecast per
    article in any order of the articles (one prior for the whole panel, not per chunk)."""
    rng = np.random.default_rng(seed)
    demand = rng.poisson(rng.uniform(0.3, 80, n)[:, None] * np.ones((1, 36))).astype(float)
    starts = rng.integers(0, 30, n)
    for i, start in enumerate(starts):
        demand[i, :start] = np.nan
    forecast = harmonic_forecast(demand, origin, 36 - origin)
    long_enough = (~np.isnan(demand[:, :origin])).sum(axis=1) >= 12
    assert np.isfinite(forecast[long_enough]).all()
    assert np.isnan(forecast[~long_enough]).all()
    order = rng.permutation(n)
    np.testing.assert_allclose(
        harmonic_forecast(demand[order], origin, 36 - origin), forecast[order], rtol=1e-9
    )


def test_a_subset_forecast_with_the_panels_prior_is_the_panels_forecast():
    """What the registered model does: two articles' history plus the training's prior give the
    training's forecast (the prior is not relearnt from two articles)."""
    rng = np.random.default_rng(5)
    demand = rng.poisson(clean_panel(60, 36, seed=4).clip(1)).astype(float)
    full = harmonic_forecast(demand, 36, 6)
    prior = harmonic_prior(demand, 36)
    assert prior is not None and prior.shape == (2, 3)
    np.testing.assert_allclose(harmonic_forecast(demand[:2], 36, 6, prior=prior), full[:2], rtol=1e-9)
    assert harmonic_prior(demand[:2], 36) is None


def sharp_season_panel(n: int, months: int, seed: int) -> np.ndarray:
    """(n, months) noisy series whose season is one sharp December peak (what one sine cannot draw)."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    level = rng.uniform(50, 200, n)[:, None]
    peak = np.where(t % 12 == 11, 2.5, 1.0)
    return np.round(level * peak * rng.lognormal(0, 0.05, (n, months)))


def test_the_number_of_harmonics_follows_the_season_seen_in_the_cross_validation_windows():
    origins = (18, 21, 24)
    assert choose_form(sharp_season_panel(40, 36, seed=6), origins, 6)[0] == 6
    # on the model's own one-sine shape, extra harmonics are shrunk to ~nothing by the prior: whatever
    # the choice, the forecasts stay as good as one sine's
    smooth = clean_panel(40, 36, seed=7) * np.random.default_rng(8).lognormal(0, 0.1, (40, 36))
    pairs, discount = choose_form(smooth, origins, 6)

    def error(p: int) -> float:
        return float(
            np.mean(np.abs(harmonic_forecast(smooth, 30, 6, pairs=p, discount=discount) - smooth[:, 30:]))
        )

    assert error(pairs) < 1.03 * error(1)
    # the months from the holdout on are never read
    sharp = sharp_season_panel(40, 36, seed=6)
    sharp[:, 30:] = np.nan
    assert choose_form(sharp, origins, 6)[0] == 6


def test_a_free_monthly_shape_forecasts_a_sharp_season_better_than_one_sine():
    demand = sharp_season_panel(40, 36, seed=9)
    actual = demand[:, 30:]

    def error(pairs: int) -> float:
        return float(np.mean(np.abs(harmonic_forecast(demand, 30, 6, pairs=pairs) - actual)))

    assert error(6) < 0.5 * error(1)


def test_recent_months_weigh_more_only_where_the_level_moved():
    rng = np.random.default_rng(11)
    t = np.arange(36)
    season = 1 + 0.3 * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 2 * np.pi, (40, 1)))
    noise = rng.lognormal(0, 0.05, (40, 36))
    moved = 100 * np.where(t < 15, 1.0, 1.6) * season * noise
    steady = 100 * season * noise
    assert choose_form(moved, (18, 21, 24), 6)[1] < 1
    assert choose_form(steady, (18, 21, 24), 6)[1] == 1
