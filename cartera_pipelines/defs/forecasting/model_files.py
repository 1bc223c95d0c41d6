"""Model files of one NIT under ``models_dir/<nit>/``, written all at once.

Everything goes to a sibling temporary directory first and is swapped into place at the end, so a
failed training leaves the previous files intact. The downstream assets (backtest, forecasts) read
``backtest.json`` and ``forecasts.json`` from here; ``summary.json`` says which training wrote them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from cartera_pipelines.defs.forecasting.demand import add_months
from cartera_pipelines.defs.forecasting.selection import MODELS
from cartera_pipelines.defs.forecasting.training import TrainingResult

QTY = Decimal("0.0001")
SUMMARY, BACKTEST, FORECASTS = "summary.json", "backtest.json", "forecasts.json"
XGBOOST, PROPHET, PLOT = "xgboost_model.json", "prophet_models.json", "forecast_plot.png"


def _qty(value: float) -> Decimal:
    return Decimal(repr(max(float(value), 0.0))).quantize(QTY, rounding=ROUND_HALF_UP)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def backtest_rows(result: TrainingResult, trained_at: dt.datetime) -> list[dict[str, Any]]:
    panel, holdout = result.panel, result.holdout
    start = panel.months[holdout.cutoff]
    rows = []
    for i, article in enumerate(panel.articles):
        for model in MODELS:
            scores = result.scores[model]
            if not math.isfinite(scores["mae"][i]):
                continue
            rows.append(
                {
                    "nit": panel.nit,
                    "article_code": article,
                    "model": model,
                    "holdout_start": start,
                    "holdout_months": holdout.length,
                    "mae": float(scores["mae"][i]),
                    "rmse": float(scores["rmse"][i]),
                    "mase": _finite(scores["mase"][i]),
                    "chosen": result.chosen[i] == model,
                    "trained_at": trained_at,
                }
            )
    return rows


def forecast_rows(result: TrainingResult, trained_at: dt.datetime) -> list[dict[str, Any]]:
    panel = result.panel
    rows = []
    for i, article in enumerate(panel.articles):
        for h in range(result.forecast.shape[1]):
            forecast = _qty(result.forecast[i, h])
            # Bounds are rounded outwards so the quantized values still hold lower <= forecast <= upper.
            lower = min(_qty(result.lower[i, h]), forecast)
            upper = max(_qty(result.upper[i, h]), forecast)
            rows.append(
                {
                    "nit": panel.nit,
                    "article_code": article,
                    "month": add_months(panel.months[-1], h + 1),
                    "horizon": h + 1,
                    "model": result.chosen[i],
                    "forecast_qty": forecast,
                    "lower_qty": lower,
                    "upper_qty": upper,
                    "trained_at": trained_at,
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


def staging_dir(nit_dir: Path) -> Path:
    staging = nit_dir.with_name(f".{nit_dir.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def write_model_files(result: TrainingResult, staging: Path, trained_at: dt.datetime, png: bytes) -> None:
    write_json(staging / BACKTEST, backtest_rows(result, trained_at))
    write_json(staging / FORECASTS, forecast_rows(result, trained_at))
    result.xgboost_final.model.save_model(str(staging / XGBOOST))
    write_json(staging / PROPHET, result.prophet_models)
    if png:
        (staging / PLOT).write_bytes(png)


def publish(staging: Path, nit_dir: Path) -> None:
    """Swap ``staging`` into ``nit_dir`` (the previous files are removed only after the swap)."""
    old = nit_dir.with_name(f".{nit_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if nit_dir.exists():
        nit_dir.rename(old)
    staging.rename(nit_dir)
    shutil.rmtree(old, ignore_errors=True)


def read_summary(nit_dir: Path) -> dict[str, Any]:
    path = nit_dir / SUMMARY
    if not path.exists():
        raise FileNotFoundError(
            f"no trained models for this NIT at {nit_dir}: materialize models/demand_models first"
        )
    return read_json(path)
