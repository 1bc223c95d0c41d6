"""Benchmark: forecasting at a distributor's scale, with statsforecast's AutoETS as the yardstick.

One NIT with N articles x 36 months shaped like a distributor's catalog (40 % smooth seasonal, 40 %
intermittent, 20 % new with 3–11 months), plus 6 hidden months the training never sees. Measured in
the same run:

- our training (rolling-origin CV of every model, choice, holdout scoring, conformal bounds, final
  forecasts) and the purchase recommendations, as ``models/demand_models`` and
  ``warehouse/purchase_recommendations`` run them (warehouse reads/writes and MLflow left out);
- statsforecast's AutoETS alone (season 12) fitting and forecasting the same panel, ``n_jobs`` processes;
- on the hidden months: RMSE of the published forecasts over a 12-month mean's on the intermittent
  articles, and the coverage of the nominal 80 % bounds on the smooth ones;
- peak memory (max RSS of this process and of its worker processes);
- and, on the smooth "real-like" panel of the earlier benchmark (500 x 36: seasonality, trend, 5–30 %
  noise, Poisson counts), mean holdout MASE of the chosen models against seasonal naive, the harmonic
  regression alone, and two oracles on the same hidden months and scale: the generator's expected
  demand (level x season x trend: the best a forecast can know) and its Poisson means (which also know
  each month's noise draw).

    cd benchmarks && ../.venv/bin/python forecasting_train.py [--articles 10000] [--jobs 2] [--skip-ets]
"""

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cartera_pipelines.defs.forecasting import evaluation as ev
from cartera_pipelines.defs.forecasting import model_files as files
from cartera_pipelines.defs.forecasting.demand import month_range
from cartera_pipelines.defs.forecasting.panel import Panel
from cartera_pipelines.defs.forecasting.policy import PolicySettings
from cartera_pipelines.defs.forecasting.recommend import recommendations
from cartera_pipelines.defs.forecasting.statistical import HARMONIC
from cartera_pipelines.defs.forecasting.training import TrainingSettings, train
from cartera_pipelines.defs.forecasting.vetting import SPARSE_TOLERANCE

RESULTS = Path(__file__).parent / "results"
HIDDEN = 6


def _calendar(months: int) -> list[dt.date]:
    last = dt.date(2022 + (months - 1) // 12, (months - 1) % 12 + 1, 1)
    return month_range(dt.date(2022, 1, 1), last)


def distributor_panel(articles: int, months: int, seed: int) -> tuple[Panel, np.ndarray, np.ndarray]:
    """(the observed panel, the hidden months, kind per article: 0 smooth, 1 intermittent, 2 new)."""
    rng = np.random.default_rng(seed)
    total = months + HIDDEN
    t = np.arange(total)
    kind = rng.choice(3, articles, p=[0.4, 0.4, 0.2])
    level = 20 * rng.lognormal(0, 0.8, articles)[:, None]
    amplitude = rng.uniform(0.1, 0.6, articles)[:, None]
    phase = rng.uniform(0, 2 * np.pi, articles)[:, None]
    trend = 1 + rng.normal(0, 0.005, articles)[:, None] * t
    demand = rng.poisson(level * (1 + amplitude * np.sin(2 * np.pi * t / 12 + phase)) * trend).astype(float)
    hit = rng.uniform(0.1, 0.5, articles)[:, None]
    size = 1 + rng.poisson(rng.uniform(1, 6, articles)[:, None], (articles, total))
    sparse = np.where(rng.random((articles, total)) < hit, size, 0).astype(float)
    demand[kind == 1] = sparse[kind == 1]
    start = np.where(kind == 2, months - rng.integers(3, 12, articles), 0)
    for i in np.flatnonzero(kind == 2):
        demand[i, : start[i]] = np.nan
    price = np.where(np.isnan(demand), np.nan, rng.uniform(1, 200, articles)[:, None])
    value = np.nan_to_num(demand * price)
    codes = [f"ART{i:05d}" for i in range(articles)]
    seen = Panel(
        "900000001",
        codes,
        [None] * articles,
        _calendar(months),
        demand[:, :months],
        price[:, :months],
        value[:, :months],
    )
    return seen, demand[:, months:], kind


@dataclass(frozen=True)
class RealLike:
    panel: Panel
    expected: np.ndarray
    """(articles, months) E[demand]: level x season x trend, what a forecast could know at best."""
    poisson_mean: np.ndarray
    """(articles, months) the Poisson means drawn, with each month's multiplicative noise (unknowable
    in advance: an oracle on it "knows" the noise draw)."""


def real_like_panel(articles: int, months: int, seed: int) -> RealLike:
    """The earlier benchmark's smooth panel: lognormal levels, yearly seasonality of random amplitude and
    phase, a small trend, multiplicative noise and Poisson counts; with the generator's true means."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    level = 30 * rng.lognormal(0, 0.8, articles)[:, None]
    amplitude = rng.uniform(0.1, 0.7, articles)[:, None]
    phase = rng.uniform(0, 2 * np.pi, articles)[:, None]
    trend = 1 + rng.normal(0, 0.008, articles)[:, None] * t
    noise = 1 + rng.normal(0, rng.uniform(0.05, 0.3, articles)[:, None], (articles, months))
    expected = level * (1 + amplitude * np.sin(2 * np.pi * t / 12 + phase)) * trend
    mean = np.clip(expected * noise, 0, None)
    demand = rng.poisson(mean).astype(float)
    price = np.tile(rng.uniform(1, 200, articles)[:, None], (1, months))
    codes = [f"ART{i:04d}" for i in range(articles)]
    panel = Panel("900000002", codes, [None] * articles, _calendar(months), demand, price, demand * price)
    return RealLike(panel, np.clip(expected, 0, None), mean)


def oracle_mase(result, truth: np.ndarray) -> float:
    """Mean holdout MASE of a forecast equal to ``truth`` on the hidden months, on the scale and articles
    the training's own ``mase_chosen`` uses."""
    holdout = result.windows.holdout
    scale, _ = ev.naive_scales(result.panel.demand[:, :holdout])
    with np.errstate(all="ignore"):
        mase = ev.mae(result.holdout_actual, truth[:, holdout:]) / scale
    return ev.finite_mean(np.where(np.isfinite(result.scores["chosen"]["mase"]), mase, np.nan))


def auto_ets_seconds(panel: Panel, horizon: int, jobs: int) -> float:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, Naive

    present = ~np.isnan(panel.demand)
    article, month = np.nonzero(present)
    frame = pd.DataFrame({"unique_id": article, "ds": month, "y": panel.demand[present]})
    started = time.perf_counter()
    # AutoETS refuses series of a few months ("tiny datasets"): those fall back to the naive forecast
    StatsForecast(models=[AutoETS(season_length=12)], freq=1, n_jobs=jobs, fallback_model=Naive()).forecast(
        df=frame, h=horizon
    )
    return time.perf_counter() - started


def _peak_rss_gb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return {"peak_rss_gb_main": round(own, 2), "peak_rss_gb_largest_worker": round(children, 2)}


def train_and_recommend(panel: Panel, jobs: int) -> tuple[object, list, float]:
    started = time.perf_counter()
    result = train(panel, TrainingSettings(n_jobs=jobs))
    trained_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    forecasts = files.forecast_rows(result, trained_at, None)
    history = [
        {
            "article_code": a,
            "demand_qty": Decimal(str(float(panel.demand[i, j]))),
            "sales_value": Decimal(str(round(float(panel.sales_value[i, j]), 2))),
            "returns_value": Decimal("0"),
            "article_name": None,
        }
        for i, a in enumerate(panel.articles)
        for j in range(max(panel.n_months - 12, 0), panel.n_months)
        if np.isfinite(panel.demand[i, j])
    ]
    rows = recommendations(panel.nit, history, forecasts, PolicySettings(), trained_at, trained_at.date())
    return result, rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-ets", action="store_true", help="leave out the AutoETS yardstick")
    args = parser.parse_args()

    figures: dict[str, object] = {"articles": args.articles, "months": args.months, "processes": args.jobs}
    panel, hidden, kind = distributor_panel(args.articles, args.months, args.seed)
    print(f"training {args.articles} articles x {args.months} months with {args.jobs} processes…", flush=True)
    result, rows, seconds = train_and_recommend(panel, args.jobs)
    figures["training_and_recommendations_seconds"] = round(seconds, 1)
    figures["timings"] = {k: round(v, 1) for k, v in result.timings.items()}
    print(f"  ours: {seconds:.1f}s", flush=True)
    # measured before AutoETS runs: the peaks of our training alone (main process, largest worker)
    figures["ours_peak"] = _peak_rss_gb()
    if not args.skip_ets:
        ets = auto_ets_seconds(panel, HIDDEN, args.jobs)
        figures["autoets_seconds"] = round(ets, 1)
        figures["ours_over_autoets"] = round(seconds / ets, 2)
        print(f"  AutoETS alone: {ets:.1f}s", flush=True)

    sparse, smooth = kind == 1, kind == 0
    mean12 = np.nanmean(panel.demand[:, -12:], axis=1)[:, None] * np.ones((1, HIDDEN))
    rmse = lambda p, rows_: float(np.sqrt(np.mean((hidden[rows_] - p[rows_]) ** 2)))  # noqa: E731
    figures["intermittent_rmse_over_mean_12_hidden"] = round(
        rmse(result.forecast, sparse) / rmse(mean12, sparse), 4
    )
    inside = (hidden[smooth] >= result.lower[smooth]) & (hidden[smooth] <= result.upper[smooth])
    figures["smooth_coverage_80_hidden"] = round(float(inside.mean()), 4)
    figures["holdout"] = {k: (round(v, 4) if np.isfinite(v) else None) for k, v in result.aggregate.items()}
    figures["passes_blocking_check"] = bool(
        result.aggregate["relative_error_vs_seasonal_naive"] < 1
        and not result.aggregate["relative_rmsse_vs_mean_12_sparse"] > SPARSE_TOLERANCE
    )
    figures["recommendations"] = len(rows)
    figures["chosen"] = {k: v for k, v in result.counts.items() if k.startswith(("chosen_", "segment_"))}

    like = real_like_panel(500, 36, 7)
    real = train(like.panel, TrainingSettings(n_jobs=args.jobs))
    figures["real_like_500_mase_chosen"] = round(real.aggregate["mase_chosen"], 4)
    figures["real_like_500_mase_seasonal_naive"] = round(real.aggregate["mase_seasonal_naive"], 4)
    figures["real_like_500_mase_harmonic"] = round(ev.finite_mean(real.scores[HARMONIC]["mase"]), 4)
    figures["real_like_500_mase_oracle_expected"] = round(oracle_mase(real, like.expected), 4)
    figures["real_like_500_mase_oracle_poisson_mean"] = round(oracle_mase(real, like.poisson_mean), 4)
    figures["real_like_500_chosen"] = {k: v for k, v in real.counts.items() if k.startswith("chosen_")}
    figures["peak_after_everything"] = _peak_rss_gb()
    figures["cpu_count"] = os.cpu_count()
    figures["load_average_1m_at_end"] = os.getloadavg()[0]
    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"forecasting_train_{args.articles}.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
