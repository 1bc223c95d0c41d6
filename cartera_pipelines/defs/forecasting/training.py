"""One training of a NIT: validation-based model choice, holdout scoring, final forecasts.

Windows over the NIT's ``T`` months (``H`` = holdout months, the validation window has the same length):

- validation: fit on months ``[0, T-2H)``, predict ``[T-2H, T-H)`` → choose each article's model;
- holdout: fit on ``[0, T-H)``, predict ``[T-H, T)`` → MAE, RMSE, MASE per article and model;
- final: fit on ``[0, T)``, forecast the next ``horizon`` months with the chosen model.

Each fit only ever receives the columns before its cutoff. Pure: no Dagster, no database, no files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from cartera_pipelines.defs.forecasting.baseline import seasonal_naive_panel
from cartera_pipelines.defs.forecasting.evaluation import aggregate_mase, mae, mase, mase_scale, rmse
from cartera_pipelines.defs.forecasting.panel import Panel
from cartera_pipelines.defs.forecasting.prophet_model import ProgressLog, ProphetTask, fit_many, prophet_pool
from cartera_pipelines.defs.forecasting.selection import MODELS, choose_models
from cartera_pipelines.defs.forecasting.xgboost_model import XgbFit, fit_xgboost, forecast_xgboost


class NotEnoughHistory(ValueError):
    """The NIT's months cannot hold a validation window, a holdout and something to train on."""


@dataclass(frozen=True)
class TrainingSettings:
    holdout_months: int = 6
    horizon_months: int = 6
    min_history_months: int = 24
    """Articles with fewer months (from their first movement) get no Prophet model."""
    interval_width: float = 0.8
    n_jobs: int = 2
    """Processes for the Prophet fits."""
    xgboost_threads: int = 1
    """XGBoost threads: on a busy 2-core machine OpenMP threads spin against each other (30x slower
    measured here), and the global model is small, so one thread is the safe default."""
    prophet_params: dict[str, Any] = field(default_factory=dict)
    xgboost_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def min_nit_months(self) -> int:
        return 2 * self.holdout_months + 2


@dataclass
class WindowPredictions:
    """Predictions of every model for one window: model -> (articles, months), NaN = not available."""

    cutoff: int
    length: int
    by_model: dict[str, np.ndarray]


@dataclass
class TrainingResult:
    panel: Panel
    settings: TrainingSettings
    validation: WindowPredictions
    holdout: WindowPredictions
    chosen: list[str]
    scores: dict[str, dict[str, np.ndarray]]
    """model -> metric (mae, rmse, mase) -> per-article array (NaN = not scored)."""
    forecast: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    xgboost_final: XgbFit
    prophet_models: dict[str, str]
    """Article -> serialized final Prophet model (articles whose chosen model is Prophet)."""
    prophet_errors: list[str]
    timings: dict[str, float]
    counts: dict[str, int]

    @property
    def scored(self) -> np.ndarray:
        """Articles with a holdout score (history before the holdout)."""
        return np.isfinite(self.scores["seasonal_naive"]["mae"])

    def chosen_scores(self, metric: str) -> np.ndarray:
        return np.array([self.scores[m][metric][i] for i, m in enumerate(self.chosen)])

    def aggregate(self) -> dict[str, float]:
        """Mean holdout MASE of the chosen models, of each model and of the baseline (same articles)."""
        comparable = np.isfinite(self.scores["seasonal_naive"]["mase"])
        out = {
            "mase_chosen": aggregate_mase(self.chosen_scores("mase")[comparable]),
            "mase_seasonal_naive": aggregate_mase(self.scores["seasonal_naive"]["mase"][comparable]),
            "mae_chosen": float(np.nanmean(self.chosen_scores("mae"))) if self.scored.any() else float("nan"),
            "mae_seasonal_naive": float(np.nanmean(self.scores["seasonal_naive"]["mae"]))
            if self.scored.any()
            else float("nan"),
        }
        for model in ("xgboost", "prophet", "ensemble"):
            out[f"mase_{model}"] = aggregate_mase(self.scores[model]["mase"][comparable])
        return out


def _progress(log: Callable[[str], None] | None, what: str) -> Callable[[int, int], None] | None:
    return ProgressLog(log, what) if log else None


def _prophet_window(
    panel: Panel,
    eligible: np.ndarray,
    cutoffs: dict[str, int],
    length: int,
    settings: TrainingSettings,
    pool: ProcessPoolExecutor | None,
    log: Callable[[str], None] | None,
    keep_models: bool = False,
) -> tuple[dict[str, np.ndarray], dict[int, str], list[str]]:
    tasks = []
    starts = panel.starts()
    for stage, cutoff in cutoffs.items():
        for i in np.flatnonzero(eligible):
            history = panel.demand[i, starts[i] : cutoff]
            if len(history) < 2:
                continue
            tasks.append(
                ProphetTask(
                    (int(i), stage),
                    tuple(float(v) for v in history),
                    panel.months[starts[i]],
                    length,
                    keep_models,
                )
            )
    what = "Prophet final fits" if keep_models else "Prophet validation and holdout fits"
    outcomes = fit_many(tasks, settings.prophet_params, pool, _progress(log, what))
    predictions = {stage: np.full((panel.n_articles, length), np.nan) for stage in cutoffs}
    models: dict[int, str] = {}
    errors = []
    for outcome in outcomes:
        i, stage = outcome.key
        if outcome.forecast is None:
            errors.append(f"{panel.articles[i]} ({stage}): {outcome.error}")
            continue
        predictions[stage][i] = outcome.forecast
        if outcome.model_json:
            models[i] = outcome.model_json
    return predictions, models, errors


def _baseline_and_xgboost(
    panel: Panel, cutoff: int, length: int, settings: TrainingSettings
) -> tuple[dict[str, np.ndarray], XgbFit]:
    observed = panel.demand[:, :cutoff]
    naive = seasonal_naive_panel(observed, length)
    xgb = fit_xgboost(
        panel.demand,
        panel.price,
        panel.months,
        cutoff,
        length,
        settings.xgboost_params,
        settings.xgboost_threads,
        settings.seed,
    )
    predictions = {
        "seasonal_naive": naive,
        "xgboost": forecast_xgboost(xgb, panel.demand, panel.price, panel.months),
    }
    # An article with no month before the cutoff has nothing to be predicted from.
    unseen = np.isnan(observed).all(axis=1)
    for values in predictions.values():
        values[unseen] = np.nan
    return predictions, xgb


def train(
    panel: Panel, settings: TrainingSettings, log: Callable[[str], None] | None = None
) -> TrainingResult:
    """Choose, score and forecast every article of ``panel``."""
    pool = prophet_pool(settings.n_jobs) if settings.n_jobs > 1 and panel.n_articles > 8 else None
    try:
        return _train(panel, settings, pool, log)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _train(
    panel: Panel,
    settings: TrainingSettings,
    pool: ProcessPoolExecutor | None,
    log: Callable[[str], None] | None,
) -> TrainingResult:
    started = time.perf_counter()
    T, H, F = panel.n_months, settings.holdout_months, settings.horizon_months
    if panel.n_articles == 0:
        raise NotEnoughHistory(f"NIT {panel.nit} has no sales or returns to learn from")
    if settings.min_nit_months > T:
        raise NotEnoughHistory(
            f"NIT {panel.nit} has {T} months of demand; a validation window and a holdout of "
            f"{H} months need at least {settings.min_nit_months}"
        )
    validation_cut, holdout_cut = T - 2 * H, T - H
    history = panel.history_months()
    eligible = history >= settings.min_history_months
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    validation, _ = _baseline_and_xgboost(panel, validation_cut, H, settings)
    holdout, _ = _baseline_and_xgboost(panel, holdout_cut, H, settings)
    xgb_final = fit_xgboost(
        panel.demand,
        panel.price,
        panel.months,
        T,
        F,
        settings.xgboost_params,
        settings.xgboost_threads,
        settings.seed,
    )
    final = {
        "xgboost": forecast_xgboost(xgb_final, panel.demand, panel.price, panel.months),
        "seasonal_naive": seasonal_naive_panel(panel.demand, F),
    }
    timings["xgboost_seconds"] = time.perf_counter() - t0
    if log:
        log(f"XGBoost and seasonal naive: {panel.n_articles} articles in {timings['xgboost_seconds']:.1f}s")

    t0 = time.perf_counter()
    prophet_windows, _, errors = _prophet_window(
        panel, eligible, {"validation": validation_cut, "holdout": holdout_cut}, H, settings, pool, log
    )
    validation["prophet"] = prophet_windows["validation"]
    holdout["prophet"] = prophet_windows["holdout"]
    for window in (validation, holdout):
        window["ensemble"] = (window["prophet"] + window["xgboost"]) / 2  # NaN where Prophet is absent

    validation_mase = {}
    scales = np.array([mase_scale(panel.demand[i, :validation_cut]) for i in range(panel.n_articles)])
    for model in MODELS:
        errors_abs = np.abs(validation[model] - panel.demand[:, validation_cut:holdout_cut])
        with np.errstate(all="ignore"):
            mae_v = np.where(np.isnan(errors_abs).any(axis=1), np.nan, errors_abs.mean(axis=1))
            # articles without a MASE scale (flat history) are judged on plain MAE
            validation_mase[model] = np.where(np.isfinite(scales), mae_v / scales, mae_v)
    chosen = choose_models(validation_mase)

    chosen_prophet = np.array([m in ("prophet", "ensemble") for m in chosen])
    final_prophet, prophet_json, final_errors = _prophet_window(
        panel, chosen_prophet, {"final": T}, F, settings, pool, log, keep_models=True
    )
    errors += final_errors
    for i in np.flatnonzero(chosen_prophet):
        if np.isnan(final_prophet["final"][i]).any():
            chosen[i] = "xgboost"  # the final fit failed (listed in prophet_errors): fall back
    final["prophet"] = final_prophet["final"]
    final["ensemble"] = (final["prophet"] + final["xgboost"]) / 2
    timings["prophet_seconds"] = time.perf_counter() - t0

    actual = panel.demand[:, holdout_cut:]
    scores: dict[str, dict[str, np.ndarray]] = {
        m: {k: np.full(panel.n_articles, np.nan) for k in ("mae", "rmse", "mase")} for m in MODELS
    }
    for i in range(panel.n_articles):
        if np.isnan(actual[i]).any() or np.isnan(holdout["seasonal_naive"][i]).any():
            continue
        scale = mase_scale(panel.demand[i, :holdout_cut])
        for model in MODELS:
            predicted = holdout[model][i]
            if np.isnan(predicted).any():
                continue
            scores[model]["mae"][i] = mae(actual[i], predicted)
            scores[model]["rmse"][i] = rmse(actual[i], predicted)
            scores[model]["mase"][i] = mase(actual[i], predicted, scale)

    forecast = np.vstack([final[m][i] for i, m in enumerate(chosen)]) if chosen else np.zeros((0, F))
    forecast = np.clip(forecast, 0, None)
    z = NormalDist().inv_cdf(0.5 + settings.interval_width / 2)
    spread = np.array([_error_scale(scores[m]["rmse"][i], panel.demand[i]) for i, m in enumerate(chosen)])
    lower = np.clip(forecast - z * spread[:, None], 0, None)
    upper = forecast + z * spread[:, None]

    timings["total_seconds"] = time.perf_counter() - started
    counts = {
        "articles": panel.n_articles,
        "months": T,
        "prophet_eligible": int(eligible.sum()),
        "scored": int(np.isfinite(scores["seasonal_naive"]["mae"]).sum()),
        **{f"chosen_{m}": chosen.count(m) for m in MODELS},
        "prophet_errors": len(errors),
    }
    return TrainingResult(
        panel=panel,
        settings=settings,
        validation=WindowPredictions(validation_cut, H, validation),
        holdout=WindowPredictions(holdout_cut, H, holdout),
        chosen=chosen,
        scores=scores,
        forecast=forecast,
        lower=lower,
        upper=upper,
        xgboost_final=xgb_final,
        prophet_models={
            panel.articles[i]: s for i, s in prophet_json.items() if chosen[i] in ("prophet", "ensemble")
        },
        prophet_errors=errors,
        timings=timings,
        counts=counts,
    )


def _error_scale(holdout_rmse: float, series: np.ndarray) -> float:
    """The monthly error used for bounds: the holdout RMSE of the chosen model, or (for articles too new
    to have a holdout) the standard deviation of their demand."""
    if np.isfinite(holdout_rmse):
        return float(holdout_rmse)
    values = series[~np.isnan(series)]
    return float(np.std(values)) if len(values) > 1 else float(abs(values[-1])) if len(values) else 0.0
