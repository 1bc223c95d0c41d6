"""The blocking verdict on a training, from its holdout rows alone (``demand_backtest``).

A training may be published when, on the holdout it never saw:

- its chosen models beat seasonal naive overall: the geometric mean over articles of the chosen model's
  error over seasonal naive's is below 1 — each article on the error its choice was judged by (MAE; RMSE
  for intermittent and lumpy articles, where an absolute error rewards forecasting zero);
- and, on intermittent and lumpy articles, they do not lose to the 12-month mean: mean RMSSE of the
  chosen models over the 12-month mean's, pooled as mean squares, at most ``SPARSE_TOLERANCE`` (the mean itself is a candidate,
  so it is mostly a tie; the few articles where CV evidence picked another model must not tip six noisy
  holdout months into a block). Pooled, not per-article ratios: six sparse months are often all zero, and a per-article
  ratio would then reward forecasting zero without limit.

Scale-free figures: no article's volume weighs more than another's, and one article moves a geometric
mean of ``n`` ratios by at most a factor ``100**(1/n)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cartera_pipelines.defs.forecasting.evaluation import geometric_mean_ratio, pooled_ratio
from cartera_pipelines.defs.forecasting.segments import SPARSE
from cartera_pipelines.defs.forecasting.statistical import MEAN_12, SEASONAL_NAIVE

SPARSE_TOLERANCE = 1.02


@dataclass(frozen=True)
class Verdict:
    passed: bool
    relative_error_vs_seasonal_naive: float
    relative_rmsse_vs_mean_12_sparse: float
    articles_compared: int
    sparse_articles_compared: int
    reason: str

    def metadata(self) -> dict[str, Any]:
        def tidy(value: float) -> float | None:
            return round(value, 4) if np.isfinite(value) else None

        return {
            "relative_error_vs_seasonal_naive": tidy(self.relative_error_vs_seasonal_naive),
            "relative_rmsse_vs_mean_12_sparse": tidy(self.relative_rmsse_vs_mean_12_sparse),
            "articles_compared": self.articles_compared,
            "sparse_articles_compared": self.sparse_articles_compared,
            "reason": self.reason,
        }


def verdict(rows: Iterable[Mapping[str, Any]]) -> Verdict:
    by_article: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    chosen: dict[str, str] = {}
    for row in rows:
        by_article[row["article_code"]][row["model"]] = row
        if row["chosen"]:
            chosen[row["article_code"]] = row["model"]
    ours, naive, sparse_ours, sparse_mean = [], [], [], []
    for article, model in chosen.items():
        models = by_article[article]
        sparse = models[model].get("segment") in SPARSE
        metric = "rmse" if sparse else "mae"
        if SEASONAL_NAIVE in models:
            ours.append(models[model][metric])
            naive.append(models[SEASONAL_NAIVE][metric])
        if sparse and MEAN_12 in models and models[model].get("rmsse") is not None:
            sparse_ours.append(models[model]["rmsse"])
            sparse_mean.append(models[MEAN_12]["rmsse"])
    overall = geometric_mean_ratio(np.array(ours, float), np.array(naive, float))
    sparse_ratio = pooled_ratio(np.array(sparse_ours, float), np.array(sparse_mean, float))
    if not np.isfinite(overall):
        passed, reason = False, "no article has a holdout error for its chosen model and seasonal naive"
    elif overall >= 1:
        passed, reason = False, f"the chosen models do not beat seasonal naive ({overall:.3f} >= 1)"
    elif np.isfinite(sparse_ratio) and sparse_ratio > SPARSE_TOLERANCE:
        passed, reason = (
            False,
            (f"intermittent articles lose to the 12-month mean ({sparse_ratio:.3f} > {SPARSE_TOLERANCE})"),
        )
    else:
        passed, reason = True, "beats seasonal naive overall and the 12-month mean on intermittent articles"
    return Verdict(passed, overall, sparse_ratio, len(ours), len(sparse_ours), reason)
