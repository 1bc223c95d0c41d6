"""Metadata the forecasting assets show in the UI: the figures a buyer or an analyst asks first."""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg

from cartera_pipelines.defs.forecasting.policy import PolicySettings
from cartera_pipelines.defs.forecasting.training import TrainingResult
from cartera_pipelines.lib.metadata import markdown_table, preview


def tidy(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value


def _counts(values: Any, name: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(
        markdown_table([{name: k, "articles": n} for k, n in Counter(values).most_common()], limit=20)
    )


def demand_metadata(nit: str, rows: list[dict[str, Any]], written: int) -> dict[str, Any]:
    months = sorted({r["month"] for r in rows})
    return {
        "dagster/row_count": written,
        "nit": nit,
        "articles": len({r["article_code"] for r in rows}),
        "first_month": months[0].isoformat() if months else "",
        "last_month": months[-1].isoformat() if months else "",
        "zero_filled_months": sum(1 for r in rows if r["zero_filled"]),
        "total_demand_qty": float(sum((r["demand_qty"] for r in rows), Decimal("0"))),
        "preview": preview(sorted(rows, key=lambda r: (r["month"], r["article_code"]), reverse=True)),
    }


def _per_horizon(result: TrainingResult) -> dg.MetadataValue:
    table = [
        {"horizon": h + 1, **{k: tidy(v[h]) for k, v in result.per_horizon.items()}}
        for h in range(result.windows.horizon)
    ]
    return dg.MetadataValue.md(markdown_table(table, limit=24))


def training_metadata(result: TrainingResult, run_id: str, link: str, staged: Path) -> dict[str, Any]:
    panel = result.panel
    return {
        "nit": panel.nit,
        "mlflow_run_id": run_id,
        "mlflow_run": dg.MetadataValue.url(link) if link.startswith("http") else dg.MetadataValue.text(link),
        "staged_dir": dg.MetadataValue.path(str(staged)),
        "articles": panel.n_articles,
        "months": panel.n_months,
        "cv_origins": ", ".join(panel.months[o].isoformat() for o in result.windows.cv),
        "holdout_start": panel.months[result.windows.holdout].isoformat(),
        **{k: tidy(v) for k, v in result.aggregate.items()},
        "per_horizon": _per_horizon(result),
        "segments": _counts(result.segments.tolist(), "segment"),
        "chosen_models": _counts(result.chosen.tolist(), "model"),
        "training_seconds": round(result.timings["total_seconds"], 1),
    }


def backtest_metadata(nit: str, summary: dict[str, Any], rows: list[dict], written: int) -> dict[str, Any]:
    return {
        "dagster/row_count": written,
        "nit": nit,
        "trained_at": summary["trained_at"].isoformat(),
        "mlflow_run_id": summary.get("mlflow_run_id") or "",
        "holdout_start": summary["holdout_start"].isoformat(),
        **{k: tidy(v) for k, v in summary["aggregate"].items()},
        "preview": preview(
            [r for r in rows if r["chosen"]], ["article_code", "segment", "model", "mae", "rmse", "mase"]
        ),
    }


def forecasts_metadata(nit: str, summary: dict[str, Any], rows: list[dict], written: int) -> dict[str, Any]:
    first = [r for r in rows if r["horizon"] == 1]
    return {
        "dagster/row_count": written,
        "nit": nit,
        "trained_at": summary["trained_at"].isoformat(),
        "articles": len(first),
        "first_month": min(r["month"] for r in rows).isoformat() if rows else "",
        "last_month": max(r["month"] for r in rows).isoformat() if rows else "",
        "next_month_total_qty": float(sum((r["forecast_qty"] for r in first), Decimal("0"))),
        "coverage_per_horizon_backtest": [tidy(v) for v in summary["per_horizon"].get("coverage", [])],
        "models": _counts([r["model"] for r in first], "model"),
        "preview": preview(
            sorted(first, key=lambda r: r["forecast_qty"], reverse=True),
            ["article_code", "month", "segment", "model", "lower_qty", "forecast_qty", "upper_qty"],
        ),
    }


def purchases_metadata(nit: str, settings: PolicySettings, rows: list[dict], written: int) -> dict[str, Any]:
    classes = Counter(f"{r['abc_class']}{r['xyz_class']}" for r in rows)
    return {
        "dagster/row_count": written,
        "nit": nit,
        "service_level": settings.service_level,
        "lead_time_months": settings.lead_time_months,
        "review_period_months": settings.review_period_months,
        "abc_xyz": dg.MetadataValue.md(
            markdown_table([{"class": c, "articles": n} for c, n in sorted(classes.items())], limit=12)
        ),
        "preview": preview(
            sorted(rows, key=lambda r: r["sales_value_12m"], reverse=True),
            [
                "article_code",
                "abc_class",
                "xyz_class",
                "lead_time_demand",
                "safety_stock",
                "reorder_point",
                "order_qty",
            ],
        ),
    }


def accuracy_metadata(nit: str, rows: list[dict], written: int) -> dict[str, Any]:
    overall = [r for r in rows if r["segment"] == "all"]
    return {
        "dagster/row_count": written,
        "nit": nit,
        "trainings_scored": len({r["trained_at"] for r in rows}),
        "by_horizon": dg.MetadataValue.md(
            markdown_table(
                [
                    {
                        k: tidy(r[k])
                        for k in (
                            "trained_at",
                            "horizon",
                            "articles",
                            "mae",
                            "mae_seasonal_naive",
                            "value_added",
                            "bias",
                            "coverage",
                        )
                    }
                    for r in overall
                ],
                limit=36,
            )
        ),
    }
