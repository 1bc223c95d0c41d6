"""Prophet per article, fitted in a process pool (Prophet is imported inside the workers only).

This module imports neither Dagster nor Prophet at import time, so spawned workers start quickly.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_PARAMS: dict[str, Any] = {
    "yearly_seasonality": 6,
    "seasonality_mode": "additive",
    "changepoint_prior_scale": 0.05,
    "seasonality_prior_scale": 10.0,
}


@dataclass(frozen=True)
class ProphetTask:
    key: tuple[int, str]
    """(article index, stage) — stage is ``validation``, ``holdout`` or ``final``."""
    history: tuple[float, ...]
    start: dt.date
    horizon: int
    keep_model: bool = False


@dataclass(frozen=True)
class ProphetOutcome:
    key: tuple[int, str]
    forecast: tuple[float, ...] | None
    model_json: str | None = None
    error: str | None = None


_quiet = False


def _silence() -> None:
    global _quiet
    if _quiet:
        return
    for name in ("cmdstanpy", "prophet", "prophet.plot", "prophet.models"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        logger.propagate = False
    logging.getLogger("prophet.plot").disabled = True  # "Importing plotly failed": we never plot with plotly
    _quiet = True


def _month_starts(start: dt.date, count: int) -> list[dt.date]:
    index = start.year * 12 + start.month - 1
    return [dt.date((index + k) // 12, (index + k) % 12 + 1, 1) for k in range(count)]


def fit_one(task: ProphetTask, params: dict[str, Any]) -> ProphetOutcome:
    """Fit one series and forecast ``task.horizon`` months after it (clipped at zero)."""
    _silence()
    import pandas as pd
    from prophet import Prophet

    # cmdstanpy and prophet set their loggers up when imported: quiet them again after the import
    # (e.g. Prophet warns on every validation fit with < 2 years of history; we know).
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    try:
        months = _month_starts(task.start, len(task.history) + task.horizon)
        frame = pd.DataFrame({"ds": pd.to_datetime(months[: len(task.history)]), "y": list(task.history)})
        model = Prophet(
            weekly_seasonality=False,
            daily_seasonality=False,
            uncertainty_samples=0,  # bounds come from the holdout error, not Prophet's sampler
            **{**DEFAULT_PARAMS, **params},
        )
        model.fit(frame, algorithm="LBFGS")
        future = pd.DataFrame({"ds": pd.to_datetime(months[len(task.history) :])})
        forecast = np.clip(model.predict(future)["yhat"].to_numpy(float), 0, None)
        model_json = None
        if task.keep_model:
            from prophet.serialize import model_to_json

            model_json = model_to_json(model)
        return ProphetOutcome(task.key, tuple(float(v) for v in forecast), model_json)
    except Exception as exc:
        return ProphetOutcome(task.key, None, error=f"{type(exc).__name__}: {exc}")


def fit_chunk(tasks: Sequence[ProphetTask], params: dict[str, Any]) -> list[ProphetOutcome]:
    return [fit_one(task, params) for task in tasks]


def prophet_pool(n_jobs: int) -> ProcessPoolExecutor | None:
    """A pool of ``n_jobs`` spawned processes (None for ``n_jobs <= 1``); the caller closes it."""
    if n_jobs <= 1:
        return None
    import multiprocessing

    # spawn, not fork: the parent (a Dagster step) runs threads, and forking those can deadlock.
    return ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"))


def fit_many(
    tasks: Sequence[ProphetTask],
    params: dict[str, Any],
    pool: ProcessPoolExecutor | None,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = 8,
) -> list[ProphetOutcome]:
    """Fit every task: in ``pool`` when given and there is enough work to pay for it, else in-process."""
    total = len(tasks)
    outcomes: list[ProphetOutcome] = []
    if pool is None or total < 2 * chunk_size:
        for k, task in enumerate(tasks, 1):
            outcomes.append(fit_one(task, params))
            if progress:
                progress(k, total)
        return outcomes
    chunks = [list(tasks[i : i + chunk_size]) for i in range(0, total, chunk_size)]
    futures = [pool.submit(fit_chunk, chunk, params) for chunk in chunks]
    for future in as_completed(futures):
        outcomes.extend(future.result())
        if progress:
            progress(len(outcomes), total)
    return outcomes


class ProgressLog:
    """Calls ``log`` with processed count, rate and ETA at most every ``every`` seconds (and at the end)."""

    def __init__(self, log: Callable[[str], None], what: str, every: float = 5.0) -> None:
        self.log, self.what, self.every = log, what, every
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else float("nan")
        self.log(f"{self.what}: {done}/{total} done, {rate:.1f}/s, ETA {eta:.0f}s")
