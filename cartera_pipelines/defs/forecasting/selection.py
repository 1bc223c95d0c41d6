"""Which model each article's forecast comes from, judged on the validation window.

The validation window is the ``holdout`` months just before the holdout, so the holdout scores of the
chosen models are not flattered by the choice (the holdout never takes part in it). Six months of one
article are a noisy judge, so an article's own validation MASE is averaged with the model's mean
validation MASE over all the NIT's articles (shrinkage towards the model that is best overall): an
article leaves the overall winner only when its own evidence is clearly against it.
"""

import numpy as np

MODELS = ("seasonal_naive", "xgboost", "prophet", "ensemble")
"""In order of preference on a tie: the simpler model wins. ``ensemble`` is the mean of the Prophet
and XGBoost forecasts (articles with a Prophet model only): their errors are only partly correlated."""
FALLBACK = "xgboost"
"""For articles too new to have a validation window: the global model learns from the others."""
OWN_WEIGHT = 0.25


def choose_models(validation_mase: dict[str, np.ndarray], own_weight: float = OWN_WEIGHT) -> list[str]:
    """Per article, the model with the lowest blended validation MASE (NaN = not available)."""
    n = len(next(iter(validation_mase.values()))) if validation_mase else 0
    complete = np.ones(n, dtype=bool)
    for scores in validation_mase.values():
        complete &= np.isfinite(scores)
    overall = {
        m: float(np.mean(s[complete]))
        if complete.any()
        else float(np.nanmean(s))
        if np.isfinite(s).any()
        else np.nan
        for m, s in validation_mase.items()
    }
    chosen = []
    for i in range(n):
        best, best_score = FALLBACK, float("inf")
        for model in MODELS:
            scores = validation_mase.get(model)
            if scores is None or not np.isfinite(scores[i]):
                continue
            blended = own_weight * scores[i] + (1 - own_weight) * (
                overall[model] if np.isfinite(overall[model]) else scores[i]
            )
            if blended < best_score - 1e-12:
                best, best_score = model, float(blended)
        chosen.append(best)
    return chosen
