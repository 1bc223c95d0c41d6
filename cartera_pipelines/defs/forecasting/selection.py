"""Which model each article's forecast comes from: the lowest error on the validation window.

The validation window is the ``holdout`` months just before the holdout, so the holdout scores of the
chosen models are not flattered by the choice (the holdout never takes part in it).
"""

from __future__ import annotations

import numpy as np

MODELS = ("seasonal_naive", "xgboost", "prophet")
"""In order of preference on a tie: the simpler model wins."""
FALLBACK = "xgboost"
"""For articles too new to have a validation window: the global model learns from the others."""


def choose_models(validation_mae: dict[str, np.ndarray]) -> list[str]:
    """Per article, the model with the lowest validation MAE (NaN = not available for that article)."""
    n = len(next(iter(validation_mae.values()))) if validation_mae else 0
    chosen = []
    for i in range(n):
        best, best_score = FALLBACK, float("inf")
        for model in MODELS:
            scores = validation_mae.get(model)
            if scores is None or not np.isfinite(scores[i]):
                continue
            if scores[i] < best_score - 1e-12:
                best, best_score = model, float(scores[i])
        chosen.append(best)
    return chosen
