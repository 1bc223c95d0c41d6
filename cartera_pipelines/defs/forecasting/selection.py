"""Which model each article's forecast comes from, judged on the cross-validation windows only.

- Candidates depend on the segment: seasonal and level models (and the global XGBoost) for smooth and
  erratic articles; Croston-SBA, TSB, ADIDA, the 12-month mean (and XGBoost) for intermittent and lumpy
  ones. ``new`` articles (too short for any window) take the mean of their months.
- Smooth and erratic articles are judged on absolute errors (MAE), intermittent and lumpy ones on
  squared errors (RMSE): an absolute-error judge rewards forecasting zero on sparse demand.
- Every score is relative to the same article's 12-month-mean error on the same months, so it has no
  unit. An article's own (log) relative score is averaged with the median of its segment's: the median
  cannot be moved by one article, whatever its volume or history length.
- On sparse demand another model must beat the 12-month mean by 15 % to replace it.
- On a tie the earlier candidate (the simpler model) wins. Articles without a CV window take their
  segment's most chosen model.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

from cartera_pipelines.defs.forecasting.segments import ERRATIC, INTERMITTENT, LUMPY, NEW, SMOOTH
from cartera_pipelines.defs.forecasting.statistical import HARMONIC, MEAN_12

XGBOOST = "xgboost"
CANDIDATES: dict[str, tuple[str, ...]] = {
    SMOOTH: ("seasonal_naive", "seasonal_mean", "theta", "seasonal_es", MEAN_12, HARMONIC, XGBOOST),
    ERRATIC: ("seasonal_naive", "seasonal_mean", "theta", "seasonal_es", MEAN_12, HARMONIC, XGBOOST),
    INTERMITTENT: (MEAN_12, "croston_sba", "tsb", "adida", XGBOOST),
    LUMPY: (MEAN_12, "croston_sba", "tsb", "adida", XGBOOST),
    NEW: (MEAN_12,),
}
SQUARED = (INTERMITTENT, LUMPY)
OWN_WEIGHT = 0.25
SPARSE_MARGIN = 0.15
"""On sparse demand the 12-month mean is kept unless another model is clearly better (by 15 %): their
differences there are mostly noise, and a noisy switch costs more than it gains."""


def window_errors(
    actual: np.ndarray, predicted: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per article, (MAE, RMSE) over the CV months where the reference model has a forecast; NaN when
    ``predicted`` misses any of them (models are compared on the same months only)."""
    n = len(actual)
    months = np.isfinite(reference.reshape(n, -1)) & np.isfinite(actual.reshape(n, -1))
    diff = (actual - predicted).reshape(n, -1)
    complete = ~(months & ~np.isfinite(diff)).any(axis=1) & months.any(axis=1)
    diff = np.where(months, diff, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mae = np.nanmean(np.abs(diff), axis=1)
        rmse = np.sqrt(np.nanmean(diff**2, axis=1))
    return np.where(complete, mae, np.nan), np.where(complete, rmse, np.nan)


def _log_relative(errors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    reference = errors[MEAN_12]
    with np.errstate(all="ignore"):
        return {
            # clipped like the NIT aggregates: a perfect fit is very good, not infinitely good
            m: np.log(
                np.clip(np.where(reference > 0, e / reference, np.where(e > 0, 100.0, 1.0)), 0.01, 100.0)
            )
            for m, e in errors.items()
        }


def choose(
    segments: np.ndarray,
    mae: dict[str, np.ndarray],
    rmse: dict[str, np.ndarray],
    own_weight: float = OWN_WEIGHT,
) -> np.ndarray:
    """The chosen model per article. ``mae``/``rmse``: model -> per-article CV error (NaN = no evidence)."""
    n = len(segments)
    chosen = np.full(n, MEAN_12, dtype=object)
    by_judge = {False: _log_relative(mae), True: _log_relative(rmse)}
    evidence = np.isfinite(mae[MEAN_12])
    for segment, candidates in CANDIDATES.items():
        log_rel = by_judge[segment in SQUARED]
        members = segments == segment
        scored = members & evidence
        medians = {
            m: float(np.median(log_rel[m][scored & np.isfinite(log_rel[m])]))
            if (scored & np.isfinite(log_rel[m])).any()
            else np.nan
            for m in candidates
            if m in log_rel
        }
        best = np.full(n, np.inf)
        for model in candidates:
            if model not in log_rel or not np.isfinite(medians[model]):
                continue
            score = own_weight * log_rel[model] + (1 - own_weight) * medians[model]
            if segment in SQUARED and model != MEAN_12:
                score = score + np.log1p(SPARSE_MARGIN)
            better = scored & np.isfinite(score) & (score < best - 1e-12)
            chosen[better] = model
            best[better] = score[better]
        unscored = members & ~evidence
        if unscored.any():
            common = Counter(chosen[scored]).most_common(1)
            chosen[unscored] = common[0][0] if common and segment != NEW else MEAN_12
    return chosen
