"""One training of a NIT: rolling-origin backtests, a choice per article, a scored holdout, forecasts.

Origins over the NIT's ``T`` months (``H`` = horizon, 6 by default; see ``statistical.windows_for``):

- cross-validation: ≥ 3 origins whose ``H``-month windows end before the holdout; every model forecasts
  from each origin with only the months before it. The choice per article and the bounds' calibration
  come from these windows only.
- holdout: the last ``H`` months, forecast from ``T − H``: it only scores (per horizon, per segment,
  against seasonal naive and the 12-month mean) and measures the bounds' coverage.
- final: every model refit on all ``T`` months; each article's chosen model forecasts the next ``H``.

Pure: no Dagster, no database, no files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cartera_pipelines.defs.forecasting import evaluation as ev
from cartera_pipelines.defs.forecasting import statistical as stat
from cartera_pipelines.defs.forecasting.conformal import Calibration, calibrate, noise_scale
from cartera_pipelines.defs.forecasting.harmonic import choose_form, harmonic_prior
from cartera_pipelines.defs.forecasting.panel import Panel
from cartera_pipelines.defs.forecasting.segments import NEW, SMOOTH, SPARSE, segments
from cartera_pipelines.defs.forecasting.selection import XGBOOST, choose, window_errors
from cartera_pipelines.defs.forecasting.xgboost_model import XgbFit, fit_xgboost, forecast_xgboost

MODELS = (*stat.STAT_MODELS, XGBOOST)


class NotEnoughHistory(ValueError):
    """The NIT's months cannot hold a cross-validation window, a holdout and something to train on."""


@dataclass(frozen=True)
class TrainingSettings:
    horizon_months: int = 6
    cv_origins: int = 3
    cv_step_months: int = 3
    interval_width: float = 0.8
    n_jobs: int = 2
    """Processes for the statistical models."""
    xgboost: bool = True
    xgboost_threads: int = 1
    """On a busy 2-core machine OpenMP threads spin against each other; the global model is small."""
    xgboost_max_rows: int = 150_000
    """Training rows of the global model are sampled down to this (memory and time stay bounded)."""
    xgboost_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def min_nit_months(self) -> int:
        return 2 * self.horizon_months + stat.MIN_TRAIN


@dataclass
class TrainingResult:
    panel: Panel
    settings: TrainingSettings
    windows: stat.Windows
    eval_segments: np.ndarray
    """Segments from the months before the holdout (they decide the holdout's choice)."""
    segments: np.ndarray
    """Segments from the whole history (they decide the published choice)."""
    eval_chosen: np.ndarray
    chosen: np.ndarray
    holdout: dict[str, np.ndarray]
    """model (and ``chosen``) -> (articles, H) forecasts of the holdout months."""
    holdout_lower: np.ndarray
    holdout_upper: np.ndarray
    scores: dict[str, dict[str, np.ndarray]]
    """model -> metric (mae, rmse, mase, rmsse) -> per article, on the holdout."""
    forecast: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    calibration: Calibration
    xgboost_final: XgbFit | None
    aggregate: dict[str, float]
    per_horizon: dict[str, list[float]]
    timings: dict[str, float]
    counts: dict[str, int]
    harmonic_prior: tuple[tuple[float, ...], ...] | None = None
    """The harmonic regression's prior (means, variances) of the final fit; the registered model forecasts
    with it."""
    harmonic_pairs: int = 1
    """The harmonic regression's yearly harmonics, chosen on the cross-validation windows."""
    harmonic_discount: float = 1.0
    """The harmonic regression's weight of a month relative to the next, chosen with ``harmonic_pairs``."""

    @property
    def holdout_actual(self) -> np.ndarray:
        return self.panel.demand[:, self.windows.holdout :]


def _fit(panel: Panel, cutoff: int, horizon: int, settings: TrainingSettings) -> XgbFit:
    return fit_xgboost(
        panel.demand,
        panel.price,
        panel.months,
        cutoff,
        horizon,
        settings.xgboost_params,
        settings.xgboost_threads,
        settings.seed,
        max_rows=settings.xgboost_max_rows,
    )


def _xgboost_origins(
    panel: Panel, origins: tuple[int, ...], used: list[int], horizon: int, settings: TrainingSettings
) -> np.ndarray:
    """Forecasts of the global model from the used origins (one fit each, on the months before it)."""
    out = np.full((panel.n_articles, len(origins), horizon), np.nan)
    for k in used:
        fit = _fit(panel, origins[k], horizon, settings)
        out[:, k] = forecast_xgboost(fit, panel.demand, panel.price, panel.months)
    return out


def _pick(predictions: dict[str, np.ndarray], chosen: np.ndarray) -> np.ndarray:
    out = np.full(predictions[stat.MEAN_12].shape, np.nan)
    for model in set(chosen.tolist()):
        rows = chosen == model
        out[rows] = predictions[model][rows]
    return out


def _fill_mean(predictions: dict[str, np.ndarray], demand: np.ndarray, stop: int) -> None:
    """Articles too short for the statistical fits still get the 12-month mean (of what they have)."""
    mean = predictions[stat.MEAN_12]
    missing = np.isnan(mean).all(axis=1)
    mean[missing] = stat.recent_mean(demand, stop)[missing, None]


def _scores(actual: np.ndarray, holdout: dict[str, np.ndarray], history: np.ndarray) -> dict:
    mae_scale, rmse_scale = ev.naive_scales(history)
    out = {}
    with np.errstate(all="ignore"):
        for model, predicted in holdout.items():
            mae, rmse = ev.mae(actual, predicted), ev.rmse(actual, predicted)
            out[model] = {"mae": mae, "rmse": rmse, "mase": mae / mae_scale, "rmsse": rmse / rmse_scale}
    return out


def _prior_of(demand: np.ndarray, stop: int, form: tuple[int, float]) -> tuple[tuple[float, ...], ...] | None:
    prior = harmonic_prior(demand, stop, stat.MIN_TRAIN, *form)
    return None if prior is None else tuple(tuple(float(v) for v in row) for row in prior)


def train(
    panel: Panel, settings: TrainingSettings, log: Callable[[str], None] | None = None
) -> TrainingResult:
    """Backtest, choose, score and forecast every article of ``panel``."""
    say = log or (lambda _message: None)
    started = time.perf_counter()
    T, H = panel.n_months, settings.horizon_months
    if panel.n_articles == 0:
        raise NotEnoughHistory(f"NIT {panel.nit} has no sales or returns to learn from")
    if settings.min_nit_months > T:
        raise NotEnoughHistory(
            f"NIT {panel.nit} has {T} months of demand; cross-validation and a holdout of {H} months "
            f"need at least {settings.min_nit_months}"
        )
    windows = stat.windows_for(T, H, settings.cv_origins, settings.cv_step_months)
    demand, timings = panel.demand, {}
    origins = windows.all
    cv_index = [origins.index(o) for o in windows.cv]
    ho_index = origins.index(windows.holdout)

    t0 = time.perf_counter()
    form = choose_form(demand, windows.cv, H, stat.MIN_TRAIN)
    predictions, final = stat.run(demand, windows, settings.n_jobs, form)
    timings["statistical_backtest_seconds"] = time.perf_counter() - t0
    say(
        f"statistical models, {len(origins)} origins: {panel.n_articles} articles in {timings['statistical_backtest_seconds']:.1f}s"
    )

    t0 = time.perf_counter()
    xgb_final = None
    if settings.xgboost:
        predictions[XGBOOST] = _xgboost_origins(panel, origins, [*cv_index, ho_index], H, settings)
        xgb_final = _fit(panel, T, H, settings)
    timings["xgboost_seconds"] = time.perf_counter() - t0
    say(f"global XGBoost, {len(cv_index) + 2} fits in {timings['xgboost_seconds']:.1f}s")

    actual = np.stack([demand[:, o : o + H] for o in origins], axis=1)
    reference = predictions[stat.MEAN_12][:, cv_index]
    mae, rmse = {}, {}
    for model, values in predictions.items():
        mae[model], rmse[model] = window_errors(actual[:, cv_index], values[:, cv_index], reference)
    eval_segments = segments(demand[:, : windows.holdout])
    final_segments = segments(demand)
    eval_chosen = choose(eval_segments, mae, rmse)
    chosen = choose(final_segments, mae, rmse)

    # Calibration: scaled CV residuals of the models the holdout choice picked.
    scales = np.stack([noise_scale(demand, o) for o in windows.cv], axis=1)
    cv_chosen = _pick({m: v[:, cv_index] for m, v in predictions.items()}, eval_chosen)
    residuals = (actual[:, cv_index] - cv_chosen) / scales[:, :, None]
    mean_residuals = (actual[:, cv_index] - predictions[stat.MEAN_12][:, cv_index]) / scales[:, :, None]
    calibration = calibrate(residuals, eval_segments, settings.interval_width)
    newcomers = calibrate(
        mean_residuals, np.full(panel.n_articles, NEW, dtype=object), settings.interval_width
    )
    calibration.quantiles[NEW] = (
        newcomers.quantiles[NEW] if NEW in newcomers.quantiles else calibration.quantiles["all"]
    )

    holdout = {m: v[:, ho_index].copy() for m, v in predictions.items()}
    _fill_mean(holdout, demand, windows.holdout)
    holdout["chosen"] = _pick(holdout, eval_chosen)
    holdout_actual = demand[:, windows.holdout :]
    holdout_lower, holdout_upper = calibration.bounds(
        np.clip(holdout["chosen"], 0, None), noise_scale(demand, windows.holdout), eval_segments
    )
    scores = _scores(holdout_actual, holdout, demand[:, : windows.holdout])

    t0 = time.perf_counter()
    if xgb_final is not None:
        final[XGBOOST] = forecast_xgboost(xgb_final, demand, panel.price, panel.months)
    _fill_mean(final, demand, T)
    forecast = _pick(final, chosen)
    fallback = np.isnan(forecast).any(axis=1)
    forecast[fallback] = final[stat.MEAN_12][fallback]
    chosen[fallback] = stat.MEAN_12
    forecast = np.clip(np.nan_to_num(forecast), 0, None)
    lower, upper = calibration.bounds(forecast, noise_scale(demand, T), final_segments)
    timings["final_seconds"] = time.perf_counter() - t0
    timings["total_seconds"] = time.perf_counter() - started

    aggregate, per_horizon = summarize(
        holdout_actual,
        holdout,
        scores,
        eval_segments,
        holdout_lower,
        holdout_upper,
        demand[:, : windows.holdout],
    )
    counts = {
        "articles": panel.n_articles,
        "months": T,
        "cv_origins": len(windows.cv),
        "harmonic_pairs": form[0],
        "scored": int(np.isfinite(scores["chosen"]["mae"]).sum()),
        **{f"segment_{s}": int((final_segments == s).sum()) for s in sorted(set(final_segments.tolist()))},
        **{f"chosen_{m}": int((chosen == m).sum()) for m in sorted(set(chosen.tolist()))},
    }
    return TrainingResult(
        panel=panel,
        settings=settings,
        windows=windows,
        eval_segments=eval_segments,
        segments=final_segments,
        eval_chosen=eval_chosen,
        chosen=chosen,
        holdout=holdout,
        holdout_lower=holdout_lower,
        holdout_upper=holdout_upper,
        scores=scores,
        forecast=forecast,
        lower=lower,
        upper=upper,
        calibration=calibration,
        xgboost_final=xgb_final,
        aggregate=aggregate,
        per_horizon=per_horizon,
        timings=timings,
        counts=counts,
        harmonic_prior=_prior_of(demand, T, form),
        harmonic_pairs=form[0],
        harmonic_discount=form[1],
    )


def summarize(
    actual: np.ndarray,
    holdout: dict[str, np.ndarray],
    scores: dict[str, dict[str, np.ndarray]],
    segments_: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    history: np.ndarray,
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Scale-free NIT figures of the holdout (see ``evaluation``) and their values per horizon."""
    chosen, naive, mean12 = scores["chosen"], scores[stat.SEASONAL_NAIVE], scores[stat.MEAN_12]
    sparse = np.isin(segments_, SPARSE)
    smooth = segments_ == SMOOTH
    mae_scale, _ = ev.naive_scales(history)
    # each article judged by the error its choice was made on: MAE, or RMSE for sparse demand
    ours = np.where(sparse, chosen["rmse"], chosen["mae"])
    reference = np.where(sparse, naive["rmse"], naive["mae"])
    aggregate = {
        "relative_error_vs_seasonal_naive": ev.geometric_mean_ratio(ours, reference),
        "relative_mae_vs_seasonal_naive": ev.geometric_mean_ratio(chosen["mae"], naive["mae"]),
        "relative_rmsse_vs_mean_12_sparse": ev.pooled_ratio(chosen["rmsse"][sparse], mean12["rmsse"][sparse]),
        "mase_chosen": ev.finite_mean(chosen["mase"]),
        "mase_seasonal_naive": ev.finite_mean(naive["mase"]),
        "mase_chosen_smooth": ev.finite_mean(chosen["mase"][smooth]),
        "rmsse_chosen": ev.finite_mean(chosen["rmsse"]),
        "rmsse_seasonal_naive": ev.finite_mean(naive["rmsse"]),
        "bias_chosen": ev.bias(actual, holdout["chosen"]),
        "articles_scored": float(np.isfinite(chosen["mae"]).sum()),
        "articles_sparse_scored": float((np.isfinite(chosen["rmse"]) & sparse).sum()),
    }
    coverage = ev.coverage(actual, lower, upper)
    coverage_smooth = ev.coverage(actual[smooth], lower[smooth], upper[smooth])
    aggregate["coverage"] = ev.finite_mean(np.array(coverage))
    aggregate["coverage_smooth"] = ev.finite_mean(np.array(coverage_smooth))
    per_horizon = {
        "mase_chosen": ev.mase_per_horizon(actual, holdout["chosen"], mae_scale),
        "mase_seasonal_naive": ev.mase_per_horizon(actual, holdout[stat.SEASONAL_NAIVE], mae_scale),
        "coverage": coverage,
        "coverage_smooth": coverage_smooth,
    }
    return aggregate, per_horizon
