"""The statistical models of every article, through statsforecast: rolling-origin backtests and forecasts.

All models run on every article in one vectorised call per history length (statsforecast needs every
series of a call to fit the windows). Parallelism is ours: the articles are split into ``n_jobs``
chunks, one worker process each, started once per training (statsforecast's own ``n_jobs`` would
start new processes — and compile its numba code again — for every call). Memory stays bounded by a
chunk. Time is the panel's column index (``freq=1``), so no calendar arithmetic happens here. A model
that cannot forecast a series (too short for it) gives NaN there, and is then not a candidate.
"""

from __future__ import annotations

import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from cartera_pipelines.defs.forecasting.harmonic import harmonic_forecast

MEAN_12 = "mean_12"
"""The benchmark of intermittent demand: the mean of the last 12 months (fewer when that is all)."""
SEASONAL_NAIVE = "seasonal_naive"
HARMONIC = "harmonic"
"""Computed with numpy (``harmonic.py``), not by statsforecast, over the whole panel in the calling process
(its prior is learnt across the NIT's articles, so it must not depend on how they are chunked); listed
last."""
STAT_MODELS = (
    SEASONAL_NAIVE,
    "seasonal_mean",
    "theta",
    "seasonal_es",
    MEAN_12,
    "croston_sba",
    "tsb",
    "adida",
    HARMONIC,
)
SF_MODELS = STAT_MODELS[:-1]
MIN_TRAIN = 12
"""Months of history a statistical fit needs (one season)."""


def _models() -> list:
    from statsforecast.models import (
        ADIDA,
        TSB,
        CrostonSBA,
        SeasonalExponentialSmoothingOptimized,
        SeasonalNaive,
        SeasonalWindowAverage,
        Theta,
        WindowAverage,
    )

    models = [
        SeasonalNaive(season_length=12),
        SeasonalWindowAverage(season_length=12, window_size=2),
        Theta(season_length=12),
        SeasonalExponentialSmoothingOptimized(season_length=12),
        WindowAverage(window_size=12),
        CrostonSBA(),
        TSB(alpha_d=0.1, alpha_p=0.1),
        ADIDA(),
    ]
    for model, name in zip(models, SF_MODELS, strict=True):
        model.alias = name
    return models


@dataclass(frozen=True)
class Windows:
    """Forecast origins (panel column indices): the cross-validation ones and the final holdout."""

    cv: tuple[int, ...]
    holdout: int
    horizon: int
    step: int

    @property
    def all(self) -> tuple[int, ...]:
        """Every origin statsforecast produces (evenly spaced); those between CV and holdout are unused."""
        return tuple(range(self.cv[0], self.holdout + 1, self.step))


def windows_for(n_months: int, horizon: int = 6, origins: int = 3, step: int = 3) -> Windows:
    """CV origins whose windows end before the holdout starts; the holdout is the last ``horizon`` months."""
    holdout = n_months - horizon
    last_cv = holdout - horizon
    cv = tuple(last_cv - step * k for k in reversed(range(origins)))
    return Windows(cv=cv, holdout=holdout, horizon=horizon, step=step)


def _frame(demand: np.ndarray, rows: np.ndarray, stop: int):
    import pandas as pd

    block = demand[rows, :stop]
    present = ~np.isnan(block)
    article, month = np.nonzero(present)
    return pd.DataFrame({"unique_id": rows[article], "ds": month, "y": block[present]})


def _forecaster(n_jobs: int = 1):
    from statsforecast import StatsForecast

    return StatsForecast(models=_models(), freq=1, n_jobs=n_jobs)


def _backtest(demand: np.ndarray, windows: Windows) -> dict[str, np.ndarray]:
    """model -> (articles, origins, horizon) predictions at every origin of ``windows.all`` (NaN where
    the article's history before the origin is shorter than ``MIN_TRAIN``)."""
    origins = windows.all
    n, T = demand.shape
    out = {m: np.full((n, len(origins), windows.horizon), np.nan) for m in STAT_MODELS}
    months = (~np.isnan(demand)).sum(axis=1)
    start = T - months
    # How many of the origins each article can take (its training part must hold MIN_TRAIN months).
    usable = np.array([sum(1 for o in origins if o - s >= MIN_TRAIN) for s in start])
    for k in sorted(set(usable.tolist()) - {0}):
        rows = np.flatnonzero(usable == k)
        frame = _frame(demand, rows, T)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = _forecaster().cross_validation(
                df=frame, h=windows.horizon, step_size=windows.step, n_windows=k, refit=True
            )
        ids = cv["unique_id"].to_numpy().astype(int)
        cutoff = cv["cutoff"].to_numpy().astype(int)
        origin_index = (cutoff + 1 - origins[0]) // windows.step
        horizon_index = cv["ds"].to_numpy().astype(int) - cutoff - 1
        for model in SF_MODELS:
            out[model][ids, origin_index, horizon_index] = cv[model].to_numpy(dtype=float)
    return out


def _forecast(demand: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """model -> (articles, horizon) forecasts after the last month (NaN for articles shorter than
    ``MIN_TRAIN``)."""
    n = demand.shape[0]
    out = {m: np.full((n, horizon), np.nan) for m in STAT_MODELS}
    rows = np.flatnonzero((~np.isnan(demand)).sum(axis=1) >= MIN_TRAIN)
    if len(rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = _forecaster().forecast(df=_frame(demand, rows, demand.shape[1]), h=horizon)
        ids = result["unique_id"].to_numpy().astype(int)
        step = result["ds"].to_numpy().astype(int) - demand.shape[1]
        for model in SF_MODELS:
            out[model][ids, step] = result[model].to_numpy(dtype=float)
    return out


def recent_mean(demand: np.ndarray, stop: int, months: int = 12) -> np.ndarray:
    """Mean of each article's last ``months`` observed months before column ``stop`` (NaN when none):
    the forecast of articles too new for any model."""
    block = demand[:, max(stop - months, 0) : stop]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(block, axis=1)


PARALLEL_MIN_ARTICLES = 400
"""Below this, starting worker processes costs more than it saves."""


def _harmonic(
    demand: np.ndarray,
    windows: Windows,
    backtests: dict[str, np.ndarray],
    forecasts: dict[str, np.ndarray],
    form: tuple[int, float],
) -> None:
    pairs, discount = form
    for k, origin in enumerate(windows.all):
        backtests[HARMONIC][:, k] = harmonic_forecast(
            demand, origin, windows.horizon, MIN_TRAIN, pairs=pairs, discount=discount
        )
    forecasts[HARMONIC] = harmonic_forecast(
        demand, demand.shape[1], windows.horizon, MIN_TRAIN, pairs=pairs, discount=discount
    )


def _chunk(demand: np.ndarray, windows: Windows) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    return _backtest(demand, windows), _forecast(demand, windows.horizon)


def run(
    demand: np.ndarray, windows: Windows, n_jobs: int = 1, harmonic_form: tuple[int, float] = (1, 1.0)
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(backtest, final forecasts) of every model: model -> (articles, origins, horizon) predictions at
    every origin of ``windows.all``, and model -> (articles, horizon) forecasts after the last month.
    ``harmonic_form``: the harmonic regression's (yearly harmonics, discount) (``harmonic.choose_form``)."""
    n = demand.shape[0]
    if n_jobs <= 1 or n < PARALLEL_MIN_ARTICLES:
        backtests, forecasts = _chunk(demand, windows)
        _harmonic(demand, windows, backtests, forecasts, harmonic_form)
        return backtests, forecasts
    bounds = np.linspace(0, n, n_jobs + 1).astype(int)
    # spawn, not fork: the parent may be a multi-threaded Dagster step
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
        parts = list(
            pool.map(
                _chunk, [demand[a:b] for a, b in zip(bounds, bounds[1:], strict=False)], [windows] * n_jobs
            )
        )
    backtests = {m: np.concatenate([p[0][m] for p in parts]) for m in STAT_MODELS}
    forecasts = {m: np.concatenate([p[1][m] for p in parts]) for m in STAT_MODELS}
    _harmonic(demand, windows, backtests, forecasts, harmonic_form)
    return backtests, forecasts
