"""Model files of one NIT: a training is *staged*; only the blocking check *promotes* it to published.

- ``models_dir/.<nit>.staging/``: the latest training, awaiting its check (``demand_backtest`` reads
  its holdout scores from here).
- ``models_dir/<nit>/``: the published training, the one the check passed. ``demand_forecasts`` reads
  only this directory, so materializing it alone re-publishes vetted forecasts, never staged ones.

Promotion swaps the directories; the previous published files are removed only after the swap.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from cartera_pipelines.defs.forecasting.demand import add_months
from cartera_pipelines.defs.forecasting.training import MODELS, TrainingResult

QTY = Decimal("0.0001")
SUMMARY, BACKTEST, FORECASTS = "summary.json", "backtest.json", "forecasts.json"
XGBOOST, PLOT = "xgboost_model.json", "forecast_plot.png"


class NoTraining(FileNotFoundError):
    """No staged or published training where one is needed."""


def quantity(value: float) -> Decimal:
    """A float quantity as NUMERIC(18, 4), never negative (via ``str(float)``: numpy 2's repr is not a number)."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite quantity: {value!r}")
    return Decimal(str(max(number, 0.0))).quantize(QTY, rounding=ROUND_HALF_UP)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def staging_dir(models_dir: Path, nit: str) -> Path:
    return models_dir / f".{nit}.staging"


def published_dir(models_dir: Path, nit: str) -> Path:
    return models_dir / nit


def backtest_rows(
    result: TrainingResult, trained_at: dt.datetime, run_id: str | None
) -> list[dict[str, Any]]:
    panel, windows = result.panel, result.windows
    start = panel.months[windows.holdout]
    rows = []
    for model in MODELS:
        if model not in result.scores:
            continue
        scores = result.scores[model]
        for i in np.flatnonzero(np.isfinite(scores["mae"])):
            rows.append(
                {
                    "nit": panel.nit,
                    "article_code": panel.articles[i],
                    "model": model,
                    "segment": str(result.eval_segments[i]),
                    "holdout_start": start,
                    "holdout_months": windows.horizon,
                    "mae": float(scores["mae"][i]),
                    "rmse": float(scores["rmse"][i]),
                    "mase": _finite(scores["mase"][i]),
                    "rmsse": _finite(scores["rmsse"][i]),
                    "chosen": result.eval_chosen[i] == model,
                    "trained_at": trained_at,
                    "mlflow_run_id": run_id,
                }
            )
    return rows


def forecast_rows(
    result: TrainingResult, trained_at: dt.datetime, run_id: str | None
) -> list[dict[str, Any]]:
    panel = result.panel
    rows = []
    for i, article in enumerate(panel.articles):
        for h in range(result.forecast.shape[1]):
            forecast = quantity(result.forecast[i, h])
            rows.append(
                {
                    "nit": panel.nit,
                    "article_code": article,
                    "month": add_months(panel.months[-1], h + 1),
                    "horizon": h + 1,
                    "model": str(result.chosen[i]),
                    "segment": str(result.segments[i]),
                    "forecast_qty": forecast,
                    # rounded bounds still hold lower <= forecast <= upper
                    "lower_qty": min(quantity(result.lower[i, h]), forecast),
                    "upper_qty": max(quantity(result.upper[i, h]), forecast),
                    "trained_at": trained_at,
                    "mlflow_run_id": run_id,
                }
            )
    return rows


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key == "$decimal":
            return Decimal(value)
        if key == "$datetime":
            return dt.datetime.fromisoformat(value)
        if key == "$date":
            return dt.date.fromisoformat(value)
    return obj


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, default=_encode, ensure_ascii=False), encoding="utf-8")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), object_hook=_decode)


def summary(result: TrainingResult, trained_at: dt.datetime) -> dict[str, Any]:
    panel, windows = result.panel, result.windows
    return {
        "nit": panel.nit,
        "trained_at": trained_at,
        "holdout_start": panel.months[windows.holdout],
        "cv_origins": [panel.months[o] for o in windows.cv],
        "last_month": panel.months[-1],
        "aggregate": {k: _finite(v) for k, v in result.aggregate.items()},
        "per_horizon": {k: [_finite(x) for x in v] for k, v in result.per_horizon.items()},
        "calibration": result.calibration.quantiles,
        "counts": result.counts,
        "timings": result.timings,
    }


def stage(
    result: TrainingResult, models_dir: Path, trained_at: dt.datetime, png: bytes, run_id: str | None = None
) -> Path:
    """Write a training to the NIT's staging directory (replacing an earlier staged one)."""
    staging = staging_dir(models_dir, result.panel.nit)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    write_json(staging / BACKTEST, backtest_rows(result, trained_at, run_id))
    write_json(staging / FORECASTS, forecast_rows(result, trained_at, run_id))
    if result.xgboost_final is not None:
        result.xgboost_final.model.save_model(str(staging / XGBOOST))
    if png:
        (staging / PLOT).write_bytes(png)
    write_json(staging / SUMMARY, summary(result, trained_at))
    return staging


def set_run(directory: Path, run_id: str, model_uri: str | None) -> None:
    """Record the MLflow run (and logged model) of a staged training in its files."""
    data = read_json(directory / SUMMARY)
    write_json(directory / SUMMARY, {**data, "mlflow_run_id": run_id, "mlflow_model_uri": model_uri})
    for name in (BACKTEST, FORECASTS):
        write_json(directory / name, [{**r, "mlflow_run_id": run_id} for r in read_json(directory / name)])


def promote(models_dir: Path, nit: str) -> Path:
    """Swap the staged training into the published directory."""
    staging, published = staging_dir(models_dir, nit), published_dir(models_dir, nit)
    if not (staging / SUMMARY).exists():
        raise NoTraining(f"no staged training for NIT {nit} at {staging}: materialize models/demand_models")
    old = models_dir / f".{nit}.old"
    shutil.rmtree(old, ignore_errors=True)
    if published.exists():
        published.rename(old)
    staging.rename(published)
    shutil.rmtree(old, ignore_errors=True)
    return published


def read_summary(directory: Path) -> dict[str, Any]:
    path = directory / SUMMARY
    if not path.exists():
        raise NoTraining(f"no training at {directory}: materialize models/demand_models (and pass its check)")
    return read_json(path)
