"""Benchmark: one NIT, 500 articles x 36 months of seasonal demand with noise.

Times the whole training (validation choice, holdout scoring of every model, final forecasts) as the
``models/demand_models`` asset runs it, and compares the holdout MASE of the chosen models with
statsforecast's AutoETS (a peer, benchmark only) and the seasonal-naive baseline on the same holdout.

    cd benchmarks && ../.venv/bin/python forecasting_train.py [--articles 500] [--months 36] [--jobs 2]
"""

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cartera_pipelines.defs.forecasting.demand import month_range
from cartera_pipelines.defs.forecasting.evaluation import aggregate_mase, mase, mase_scale
from cartera_pipelines.defs.forecasting.panel import Panel
from cartera_pipelines.defs.forecasting.training import TrainingSettings, train

RESULTS = Path(__file__).parent / "results"


def synthetic_panel(articles: int, months: int, seed: int) -> Panel:
    """Seasonal series with noise: lognormal levels, yearly seasonality of random amplitude and phase,
    a small trend, multiplicative noise and Poisson counts (so slow movers are noisy too)."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    level = 30 * rng.lognormal(0, 0.8, articles)[:, None]
    amplitude = rng.uniform(0.1, 0.7, articles)[:, None]
    phase = rng.uniform(0, 2 * np.pi, articles)[:, None]
    trend = 1 + rng.normal(0, 0.008, articles)[:, None] * t
    noise = 1 + rng.normal(0, rng.uniform(0.05, 0.3, articles)[:, None], (articles, months))
    mean = np.clip(level * (1 + amplitude * np.sin(2 * np.pi * t / 12 + phase)) * trend * noise, 0, None)
    demand = rng.poisson(mean).astype(float)
    price = np.tile(rng.uniform(1, 200, articles)[:, None], (1, months))
    calendar = month_range(dt.date(2022, 1, 1), dt.date(2022 + (months - 1) // 12, (months - 1) % 12 + 1, 1))
    codes = [f"ART{i:04d}" for i in range(articles)]
    return Panel("900000001", codes, [None] * articles, calendar, demand, price, demand * price)


def auto_ets(panel: Panel, cutoff: int, horizon: int) -> tuple[np.ndarray, float]:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(panel.articles, cutoff),
            "ds": np.tile(pd.to_datetime(panel.months[:cutoff]), panel.n_articles),
            "y": panel.demand[:, :cutoff].ravel(),
        }
    )
    started = time.perf_counter()
    forecast = StatsForecast(models=[AutoETS(season_length=12)], freq="MS", n_jobs=1).forecast(
        df=frame, h=horizon
    )
    seconds = time.perf_counter() - started
    forecast = forecast.reset_index() if "unique_id" not in forecast.columns else forecast
    values = forecast.pivot(index="unique_id", columns="ds", values="AutoETS").loc[panel.articles].to_numpy()
    return np.clip(values, 0, None), seconds


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    panel = synthetic_panel(args.articles, args.months, args.seed)
    settings = TrainingSettings(n_jobs=args.jobs)
    print(f"training {args.articles} articles x {args.months} months with {args.jobs} Prophet processes…")
    started = time.perf_counter()
    cpu_before = _cpu_seconds()
    result = train(panel, settings, log=lambda m: print("  " + m))
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before

    cut, horizon = result.holdout.cutoff, settings.holdout_months
    actual = panel.demand[:, cut:]
    scales = np.array([mase_scale(panel.demand[i, :cut]) for i in range(panel.n_articles)])
    ets, ets_seconds = auto_ets(panel, cut, horizon)
    ets_mase = np.array([mase(actual[i], ets[i], scales[i]) for i in range(panel.n_articles)])
    comparable = np.isfinite(result.scores["seasonal_naive"]["mase"]) & np.isfinite(ets_mase)
    aggregate = result.aggregate()
    eligible = max(result.counts["prophet_eligible"], 1)
    figures = {
        "articles": args.articles,
        "months": args.months,
        "prophet_processes": args.jobs,
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": os.getloadavg()[0],
        "training_seconds": round(seconds, 2),
        # CPU seconds of this process and its Prophet workers: on a machine shared with other work the
        # wall time stretches, CPU time / cores is what the same run takes on an idle machine.
        "training_cpu_seconds": round(cpu, 2),
        "training_cpu_seconds_per_core": round(cpu / max(args.jobs, 1), 2),
        "target_seconds": 120,
        "prophet_seconds_per_article": round(result.timings["prophet_seconds"] / eligible, 4),
        "xgboost_seconds_per_article": round(result.timings["xgboost_seconds"] / args.articles, 4),
        "autoets_seconds_per_article": round(ets_seconds / args.articles, 4),
        "mase_chosen": round(aggregate_mase(result.chosen_scores("mase")[comparable]), 4),
        "mase_autoets": round(aggregate_mase(ets_mase[comparable]), 4),
        "mase_seasonal_naive": round(aggregate_mase(result.scores["seasonal_naive"]["mase"][comparable]), 4),
        "mase_prophet": round(aggregate["mase_prophet"], 4),
        "mase_xgboost": round(aggregate["mase_xgboost"], 4),
        "mase_ensemble": round(aggregate["mase_ensemble"], 4),
        "articles_compared": int(comparable.sum()),
        "chosen": {k: v for k, v in result.counts.items() if k.startswith("chosen_")},
        "prophet_failed_fits": len(result.prophet_errors),
    }
    print(json.dumps(figures, indent=2))
    print(
        f"\ntraining + holdout + forecasts: {seconds:.1f}s (target < 120s) | "
        f"MASE chosen {figures['mase_chosen']} vs AutoETS {figures['mase_autoets']} vs seasonal naive {figures['mase_seasonal_naive']}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "forecasting_train.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
