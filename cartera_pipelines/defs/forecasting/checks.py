"""Checks of the forecasting assets (per NIT partition). The baseline check blocks the forecasts."""

from collections import defaultdict

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.forecasting import tables as t
from cartera_pipelines.defs.forecasting.assets import (
    DEMAND_BACKTEST,
    DEMAND_FORECASTS,
    DEMAND_MONTHLY,
    PURCHASE_RECOMMENDATIONS,
)
from cartera_pipelines.defs.forecasting.demand import add_months
from cartera_pipelines.defs.forecasting.evaluation import aggregate_mase
from cartera_pipelines.defs.forecasting.store import slice_rows
from cartera_pipelines.defs.tns.partitions import nit_partitions
from cartera_pipelines.lib.metadata import markdown_table
from cartera_pipelines.resources.database import SqlDatabase


def _nit(context: dg.AssetCheckExecutionContext) -> str:
    return context.partition_key


def beats_baseline(rows: list[dict]) -> tuple[bool, dict[str, float | int]]:
    """Mean holdout MASE of the chosen models vs the seasonal-naive one, over the articles where both
    are defined. Passes only when the chosen models are strictly better."""
    by_article: dict[str, dict[str, float]] = defaultdict(dict)
    chosen: dict[str, str] = {}
    for row in rows:
        if row["mase"] is not None:
            by_article[row["article_code"]][row["model"]] = row["mase"]
        if row["chosen"]:
            chosen[row["article_code"]] = row["model"]
    pairs = [
        (scores[chosen[a]], scores["seasonal_naive"])
        for a, scores in by_article.items()
        if a in chosen and chosen[a] in scores and "seasonal_naive" in scores
    ]
    ours = aggregate_mase([p[0] for p in pairs]) if pairs else float("nan")
    naive = aggregate_mase([p[1] for p in pairs]) if pairs else float("nan")
    passed = bool(pairs) and ours < naive
    return passed, {"articles_compared": len(pairs), "mase_chosen": ours, "mase_seasonal_naive": naive}


@dg.asset_check(
    asset=DEMAND_BACKTEST,
    blocking=True,
    partitions_def=nit_partitions,
    description="The chosen models beat seasonal naive on the holdout (mean MASE); blocks the forecasts.",
)
def chosen_models_beat_seasonal_naive(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        rows = slice_rows(conn, t.demand_backtest, _nit(context))
    passed, figures = beats_baseline(rows)
    metadata = {k: (round(v, 4) if isinstance(v, float) and v == v else v) for k, v in figures.items()}
    if not figures["articles_compared"]:
        metadata["reason"] = "no article has a holdout MASE for both its chosen model and the baseline"
    return dg.AssetCheckResult(passed=passed, metadata=metadata)


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
