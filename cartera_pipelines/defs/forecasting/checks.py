"""Checks of the forecasting assets (per NIT partition). The baselines check blocks and promotes."""

from collections import defaultdict
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.forecasting import model_files as files
from cartera_pipelines.defs.forecasting import tables as t
from cartera_pipelines.defs.forecasting.assets import (
    DEMAND_BACKTEST,
    DEMAND_FORECASTS,
    DEMAND_MODELS,
    DEMAND_MONTHLY,
    PURCHASE_RECOMMENDATIONS,
)
from cartera_pipelines.defs.forecasting.demand import add_months
from cartera_pipelines.defs.forecasting.sql import slice_rows
from cartera_pipelines.defs.forecasting.tracking import promote
from cartera_pipelines.defs.forecasting.vetting import verdict
from cartera_pipelines.defs.tns.partitions import nit_partitions
from cartera_pipelines.lib.metadata import markdown_table
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.mlflow import MlflowTracking
from cartera_pipelines.resources.paths import CarteraPaths

COVERAGE_RANGE = (0.70, 0.90)
"""Nominal 80 % bounds must cover between 70 % and 90 % of the holdout months."""


def _nit(context: dg.AssetCheckExecutionContext) -> str:
    return context.partition_key


def _publish(
    paths: CarteraPaths, mlflow: MlflowTracking, nit: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Promote the staged training these backtest rows come from; register its model as champion."""
    staged = files.staging_dir(paths.models_dir, nit)
    summary = files.read_summary(staged)
    trained = {r["trained_at"].replace(tzinfo=None) for r in rows}
    if trained != {summary["trained_at"].replace(tzinfo=None)}:
        raise dg.Failure(f"demand_backtest of NIT {nit} is not from the staged training: re-run the chain")
    version = promote(mlflow, nit, summary["mlflow_model_uri"]) if summary.get("mlflow_model_uri") else ""
    files.promote(paths.models_dir, nit)
    return {"published_training": summary["trained_at"].isoformat(), "model_version": version}


@dg.asset_check(
    asset=DEMAND_BACKTEST,
    blocking=True,
    partitions_def=nit_partitions,
    description=(
        "The staged training beats seasonal naive overall and the 12-month mean on intermittent articles "
        "(holdout, scale-free); when it passes, it promotes the training (files and MLflow champion)."
    ),
)
def training_beats_baselines(
    context: dg.AssetCheckExecutionContext,
    warehouse_db: SqlDatabase,
    paths: CarteraPaths,
    mlflow: MlflowTracking,
) -> dg.AssetCheckResult:
    nit = _nit(context)
    with warehouse_db.connect() as conn:
        rows = slice_rows(conn, t.demand_backtest, nit)
    found = verdict(rows)
    metadata = found.metadata()
    if found.passed:
        metadata.update(_publish(paths, mlflow, nit, rows))
    return dg.AssetCheckResult(passed=found.passed, metadata=metadata)


@dg.asset_check(
    asset=DEMAND_MODELS,
    partitions_def=nit_partitions,
    description="Nominal 80 % bounds cover 70–90 % of the holdout months (the backtest), per horizon in metadata.",
)
def bounds_cover_nominal_on_backtest(
    context: dg.AssetCheckExecutionContext, paths: CarteraPaths
) -> dg.AssetCheckResult:
    nit = _nit(context)
    staged = files.staging_dir(paths.models_dir, nit)
    # the blocking check may already have promoted the staged training
    summary = files.read_summary(staged if staged.exists() else files.published_dir(paths.models_dir, nit))
    coverage = summary["aggregate"].get("coverage")
    low, high = COVERAGE_RANGE
    return dg.AssetCheckResult(
        passed=coverage is not None and low <= coverage <= high,
        metadata={
            "coverage": coverage,
            "coverage_smooth": summary["aggregate"].get("coverage_smooth"),
            "coverage_per_horizon": summary["per_horizon"]["coverage"],
            "range": f"{low:.0%}–{high:.0%}",
        },
    )


@dg.asset_check(
    asset=DEMAND_BACKTEST, partitions_def=nit_partitions, description="Exactly one chosen model per article."
)
def one_chosen_model_per_article(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        rows = slice_rows(conn, t.demand_backtest, _nit(context))
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["article_code"]] += int(bool(row["chosen"]))
    wrong = sorted(a for a, n in counts.items() if n != 1)
    return dg.AssetCheckResult(
        passed=not wrong and bool(rows),
        metadata={"articles": len(counts), "articles_wrong": len(wrong), "examples": ", ".join(wrong[:10])},
    )


@dg.asset_check(
    asset=DEMAND_MONTHLY,
    partitions_def=nit_partitions,
    description="Every article has every month from its first to the last (no gaps) and demand = sales - returns.",
)
def months_contiguous_and_balanced(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        rows = slice_rows(conn, t.demand_monthly, _nit(context))
    months: dict[str, list] = defaultdict(list)
    unbalanced = 0
    for row in rows:
        months[row["article_code"]].append(row["month"])
        if row["demand_qty"] != row["sales_qty"] - row["returns_qty"]:
            unbalanced += 1
    last = max((max(m) for m in months.values()), default=None)
    gaps = [a for a, m in months.items() if len(set(m)) != len(m) or add_months(min(m), len(m) - 1) != last]
    return dg.AssetCheckResult(
        passed=bool(rows) and not gaps and not unbalanced,
        metadata={
            "rows": len(rows),
            "articles_with_gaps": len(gaps),
            "unbalanced_rows": unbalanced,
            "examples": ", ".join(sorted(gaps)[:10]),
        },
    )


@dg.asset_check(
    asset=DEMAND_FORECASTS,
    partitions_def=nit_partitions,
    description="Forecasts are non-negative and 0 <= lower <= forecast <= upper.",
)
def bounds_ordered_and_non_negative(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    table = t.demand_forecasts
    bad = sa.or_(
        table.c.lower_qty < 0,
        table.c.lower_qty > table.c.forecast_qty,
        table.c.forecast_qty > table.c.upper_qty,
    )
    with warehouse_db.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).where(table.c.nit == _nit(context))).scalar_one()
        wrong = conn.execute(sa.select(sa.func.count()).where(table.c.nit == _nit(context), bad)).scalar_one()
    return dg.AssetCheckResult(
        passed=total > 0 and wrong == 0, metadata={"rows": total, "rows_out_of_order": wrong}
    )


@dg.asset_check(
    asset=PURCHASE_RECOMMENDATIONS,
    partitions_def=nit_partitions,
    description="reorder point = lead-time demand + safety stock >= 0, one row per forecast article.",
)
def reorder_point_covers_lead_time_demand(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    nit = _nit(context)
    with warehouse_db.connect() as conn:
        rows = slice_rows(conn, t.purchase_recommendations, nit)
        articles = conn.execute(
            sa.select(sa.func.count(sa.distinct(t.demand_forecasts.c.article_code))).where(
                t.demand_forecasts.c.nit == nit
            )
        ).scalar_one()
    wrong = [
        r
        for r in rows
        if r["safety_stock"] < 0 or r["reorder_point"] != r["lead_time_demand"] + r["safety_stock"]
    ]
    return dg.AssetCheckResult(
        passed=bool(rows) and not wrong and len(rows) == articles,
        metadata={
            "rows": len(rows),
            "forecast_articles": articles,
            "rows_wrong": len(wrong),
            "examples": dg.MetadataValue.md(
                markdown_table(
                    wrong[:5], ["article_code", "lead_time_demand", "safety_stock", "reorder_point"]
                )
            ),
        },
    )
