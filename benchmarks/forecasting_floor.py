"""How low can mean MASE go on the "real-like" panel? The generator's own model, fitted with its own priors.

``forecasting_train.py`` scores our training on the smooth "real-like" panel (500 articles x 36 months,
seed 7; the last 6 months are its holdout, so every forecast is made from 30 months) against an oracle that
knows each article's true expected demand. No forecaster knows that. This script gives the figure a
forecaster *could* reach: for every article, the maximum a posteriori fit of the very model that generated
the panel (level x (1 + yearly sine) x (1 + linear trend), multiplicative noise over Poisson counts),
with the generator's own priors on every parameter (lognormal level, amplitude in [0.1, 0.7], trend
N(0, 0.008), noise in [0.05, 0.3]), from four starting phases; its forecast is the fitted expected demand.
Scored exactly as the training scores its holdout: MAE over the 6 hidden months ÷ the in-sample seasonal
naive MAE of the 30 months (``evaluation.naive_scales``), mean over articles.

    cd benchmarks && ../.venv/bin/python forecasting_floor.py      # about 3 minutes, one core
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting_train import RESULTS, real_like_panel

from cartera_pipelines.defs.forecasting import evaluation as ev

TRAIN, HIDDEN = 30, 6
MONTHS = np.arange(TRAIN + HIDDEN)
# the generator's priors (forecasting_train.real_like_panel)
LEVEL_MEDIAN, LEVEL_SIGMA = 30.0, 0.8
AMPLITUDE = (0.1, 0.7)
TREND_SIGMA = 0.008
NOISE = (0.05, 0.3)


def expected(theta: np.ndarray, months: np.ndarray) -> np.ndarray:
    log_level, sine, cosine, trend = theta[:4]
    angle = 2 * np.pi * months / 12
    return np.exp(log_level) * (1 + sine * np.sin(angle) + cosine * np.cos(angle)) * (1 + trend * months)


def _outside(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return 0.0 if low <= value <= high else min(abs(value - low), abs(value - high))


def negative_log_posterior(theta: np.ndarray, history: np.ndarray) -> float:
    """Gaussian approximation of Poisson(mean x (1 + noise)): variance mean + (noise x mean)²."""
    mean = np.clip(expected(theta, MONTHS[:TRAIN]), 1e-3, None)
    noise = np.exp(theta[4])
    variance = mean + (noise * mean) ** 2
    likelihood = 0.5 * np.sum((history - mean) ** 2 / variance + np.log(variance))
    prior = 0.5 * ((theta[0] - np.log(LEVEL_MEDIAN)) / LEVEL_SIGMA) ** 2 + 0.5 * (theta[3] / TREND_SIGMA) ** 2
    # uniform priors: flat inside, a steep wall outside (keeps the optimiser smooth)
    prior += 1e4 * _outside(float(np.hypot(theta[1], theta[2])), AMPLITUDE) ** 2
    prior += 5e3 * _outside(float(noise), NOISE) ** 2
    return float(likelihood + prior)


def map_forecast(history: np.ndarray) -> np.ndarray:
    best = None
    for sine, cosine in ((0.3, 0.0), (0.0, 0.3), (-0.3, 0.0), (0.0, -0.3)):
        start = np.array([np.log(max(history.mean(), 1.0)), sine, cosine, 0.0, np.log(0.15)])
        fit = minimize(negative_log_posterior, start, args=(history,), method="L-BFGS-B")
        if best is None or fit.fun < best.fun:
            best = fit
    return expected(best.x, MONTHS[TRAIN:])


def main() -> None:
    started = time.perf_counter()
    like = real_like_panel(500, TRAIN + HIDDEN, 7)
    demand = like.panel.demand
    history, hidden = demand[:, :TRAIN], demand[:, TRAIN:]
    scale, _ = ev.naive_scales(history)
    forecast = np.array([map_forecast(row) for row in history])

    def mase(predicted: np.ndarray) -> float:
        return float(np.nanmean(ev.mae(hidden, predicted) / scale))

    figures = {
        "articles": len(demand),
        "mase_map_of_the_generators_model": round(mase(forecast), 4),
        "mase_oracle_expected_demand": round(mase(like.expected[:, TRAIN:]), 4),
        "mase_seasonal_naive": round(mase(history[:, TRAIN - 12 : TRAIN - 12 + HIDDEN]), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_1m_at_end": os.getloadavg()[0],
    }
    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "forecasting_floor.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
