"""forecasting assets, one partition per NIT: demand -> models -> backtest -> forecasts -> purchases."""

import datetime as dt
import json
import math
import platform
from collections import Counter
from decimal import Decimal
from typing import Any

import dagster as dg

from cartera_pipelines.defs.forecasting import model_files as files
from cartera_pipelines.defs.forecasting import tables as t
from cartera_pipelines.defs.forecasting.config import DemandConfig, PolicyConfig, TrainingConfig
from cartera_pipelines.defs.forecasting.demand import add_months, monthly_demand
from cartera_pipelines.defs.forecasting.panel import build_panel
from cartera_pipelines.defs.forecasting.plots import forecast_plot_png, markdown_image
from cartera_pipelines.defs.forecasting.recommend import recommendations
from cartera_pipelines.defs.forecasting.store import (
    MissingInput,
    demand_rows,
    movement_groups,
    replace_slice,
    require_table,
    slice_rows,
)
from cartera_pipelines.defs.forecasting.training import NotEnoughHistory, train
from cartera_pipelines.defs.tns.partitions import nit_partitions
from cartera_pipelines.defs.tns.tables import tns_inventory_movements
from cartera_pipelines.lib.metadata import markdown_table, preview, table_metadata
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.mlflow import MlflowTracking
from cartera_pipelines.resources.paths import CarteraPaths

GROUP = "forecasting"
OWNERS = ["team:forecasting"]
EXPERIMENT = "cartera_demand"
MOVEMENTS = dg.AssetKey(["warehouse", "tns_inventory_movements"])
DEMAND_MONTHLY = dg.AssetKey(["warehouse", "demand_monthly"])
DEMAND_MODELS = dg.AssetKey(["models", "demand_models"])
DEMAND_BACKTEST = dg.AssetKey(["warehouse", "demand_backtest"])
DEMAND_FORECASTS = dg.AssetKey(["warehouse", "demand_forecasts"])
PURCHASE_RECOMMENDATIONS = dg.AssetKey(["warehouse", "purchase_recommendations"])


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _fmt(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


@dg.asset(
    key=DEMAND_MONTHLY,
    # A NIT pools every company-year (<NIT>_<ANOFIS>) of the movements; only its own are read.
    deps=[dg.AssetDep(MOVEMENTS, partition_mapping=dg.AllPartitionMapping())],
    partitions_def=nit_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "python"},
    pool="warehouse_db",
    metadata=table_metadata(t.demand_monthly),
)
def demand_monthly(
    context: dg.AssetExecutionContext, config: DemandConfig, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Monthly demand per article of one NIT: sales (FACTURA_VENTA) minus sales returns
    (DEVOLUCION_VENTA) pooled over every company-year of the NIT, from
    ``warehouse/tns_inventory_movements``. Months without movements are zero rows, from each
    article's first movement to the NIT's last month; with price and warehouse features."""
    nit = context.partition_key
    last_month = None
    if config.exclude_current_month:
        today = dt.date.today()
        last_month = add_months(dt.date(today.year, today.month, 1), -1)
    with warehouse_db.begin() as conn:
        try:
            require_table(conn, tns_inventory_movements, "warehouse/tns_inventory_movements")
        except MissingInput as exc:
            raise dg.Failure(str(exc)) from exc
        rows = list(monthly_demand(nit, movement_groups(conn, nit), last_month=last_month))
        written = replace_slice(conn, t.demand_monthly, nit, rows)
    articles = {r["article_code"] for r in rows}
    months = sorted({r["month"] for r in rows})
    total = sum((r["demand_qty"] for r in rows), Decimal("0"))
    context.log.info(f"NIT {nit}: {written} article-months, {len(articles)} articles, {len(months)} months")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "nit": nit,
            "articles": len(articles),
            "first_month": months[0].isoformat() if months else "",
            "last_month": months[-1].isoformat() if months else "",
            "zero_filled_months": sum(1 for r in rows if r["zero_filled"]),
            "total_demand_qty": float(total),
            "preview": preview(sorted(rows, key=lambda r: (r["month"], r["article_code"]), reverse=True)),
        }
    )


@dg.asset(
    key=DEMAND_MODELS,
    deps=[DEMAND_MONTHLY],
    partitions_def=nit_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"prophet", "xgboost", "mlflow"},
    # Training takes every core: at most the pool's limit of trainings run at once.
    pool="forecasting_training",
)
def demand_models(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    warehouse_db: SqlDatabase,
    mlflow: MlflowTracking,
    paths: CarteraPaths,
) -> dg.MaterializeResult:
    """Demand models of one NIT: Prophet per article with enough history (yearly seasonality), one
    global XGBoost (lag, rolling and calendar features from past months only) and the seasonal-naive
    baseline. Each article's model is chosen on a validation window; every model is scored on a
    time-based holdout (the last months); the chosen models forecast the next months. Files under
    ``CARTERA_HOME/models/<nit>/``; one MLflow run per training (experiment ``cartera_demand``) with the
    XGBoost model registered as ``demand_xgboost_<nit>``."""
    nit = context.partition_key
    mlflow.ensure_reachable()  # before the minutes of training, not after
    with warehouse_db.connect() as conn:
        try:
            require_table(conn, t.demand_monthly, "warehouse/demand_monthly")
        except MissingInput as exc:
            raise dg.Failure(str(exc)) from exc
        panel = build_panel(nit, demand_rows(conn, nit))
    settings = config.settings()
    context.log.info(
        f"NIT {nit}: training on {panel.n_articles} articles x {panel.n_months} months "
        f"({settings.n_jobs} processes for Prophet)"
    )
    try:
        result = train(panel, settings, log=context.log.info)
    except NotEnoughHistory as exc:
        raise dg.Failure(str(exc)) from exc
    trained_at = _utcnow()
    aggregate = result.aggregate()
    png = forecast_plot_png(result, config.plot_articles) if config.plot_articles else b""

    nit_dir = paths.ensure(paths.models_dir) / nit
    staging = files.staging_dir(nit_dir)
    files.write_model_files(result, staging, trained_at, png)
    run_id, link = _log_to_mlflow(context, mlflow, config, result, aggregate, staging, trained_at)
    summary = {
        "nit": nit,
        "trained_at": trained_at,
        "mlflow_run_id": run_id,
        "holdout_start": panel.months[result.holdout.cutoff],
        "last_month": panel.months[-1],
        "aggregate": aggregate,
        "counts": result.counts,
        "timings": result.timings,
        "prophet_errors": result.prophet_errors[:50],
    }
    files.write_json(staging / files.SUMMARY, summary)
    files.publish(staging, nit_dir)

    eligible = max(result.counts["prophet_eligible"], 1)
    metadata: dict[str, Any] = {
        "nit": nit,
        "mlflow_run_id": run_id,
        "mlflow_run": dg.MetadataValue.url(link) if link.startswith("http") else dg.MetadataValue.text(link),
        "model_dir": dg.MetadataValue.path(str(nit_dir)),
        "articles": panel.n_articles,
        "months": panel.n_months,
        "holdout_start": panel.months[result.holdout.cutoff].isoformat(),
        "mase_chosen": _fmt(aggregate["mase_chosen"]),
        "mase_seasonal_naive": _fmt(aggregate["mase_seasonal_naive"]),
        "mase_xgboost": _fmt(aggregate["mase_xgboost"]),
        "mase_prophet": _fmt(aggregate["mase_prophet"]),
        "chosen_models": dg.MetadataValue.md(
            markdown_table([{"model": m, "articles": n} for m, n in Counter(result.chosen).most_common()])
        ),
        "prophet_failed_fits": len(result.prophet_errors),
        "training_seconds": round(result.timings["total_seconds"], 1),
        "prophet_seconds_per_article": round(result.timings["prophet_seconds"] / eligible, 4),
        "xgboost_seconds_per_article": round(result.timings["xgboost_seconds"] / max(panel.n_articles, 1), 4),
    }
    if png:
        metadata["forecast_plot"] = dg.MetadataValue.md(markdown_image(png, f"forecasts of NIT {nit}"))
    return dg.MaterializeResult(metadata=metadata)


def _log_to_mlflow(
    context: dg.AssetExecutionContext,
    tracking: MlflowTracking,
    config: TrainingConfig,
    result: Any,
    aggregate: dict[str, float],
    staging: Any,
    trained_at: dt.datetime,
) -> tuple[str, str]:
    import mlflow
    import mlflow.xgboost
    import xgboost

    nit = result.panel.nit
    tags = {"nit": nit, "dagster_run_id": context.run.run_id, "trained_at": trained_at.isoformat()}
    with tracking.start_run(EXPERIMENT, f"{nit} {trained_at:%Y-%m-%d %H:%M}", tags) as run:
        mlflow.log_params(
            {
                **config.model_dump(),
                "nit": nit,
                "articles": result.panel.n_articles,
                "months": result.panel.n_months,
                "first_month": result.panel.months[0].isoformat(),
                "last_month": result.panel.months[-1].isoformat(),
                "xgboost_training_rows": result.xgboost_final.training_rows,
            }
        )
        mlflow.log_metrics(
            {k: v for k, v in {**aggregate, **result.counts, **result.timings}.items() if math.isfinite(v)}
        )
        mlflow.log_artifacts(str(staging), artifact_path="model_files")
        mlflow.xgboost.log_model(
            result.xgboost_final.model,
            name="xgboost",
            registered_model_name=f"demand_xgboost_{nit}",
            # Inferring requirements imports the world in a subprocess (seconds); we know them.
            pip_requirements=[f"xgboost=={xgboost.__version__}"],
            model_format="json",
        )
        mlflow.set_tag("python", platform.python_version())
        experiment_id = run.info.experiment_id
        run_id = run.info.run_id
    link = tracking.run_link(experiment_id, run_id)
    context.log.info(f"MLflow run {run_id} in experiment {EXPERIMENT}: {link}")
    return run_id, link


def _training_files(paths: CarteraPaths, nit: str) -> tuple[dict[str, Any], Any]:
    nit_dir = paths.models_dir / nit
    try:
        return files.read_summary(nit_dir), nit_dir
    except FileNotFoundError as exc:
        raise dg.Failure(str(exc)) from exc


@dg.asset(
    key=DEMAND_BACKTEST,
    deps=[DEMAND_MODELS],
    partitions_def=nit_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "python"},
    pool="warehouse_db",
    metadata=table_metadata(t.demand_backtest),
)
def demand_backtest(
    context: dg.AssetExecutionContext, warehouse_db: SqlDatabase, paths: CarteraPaths
) -> dg.MaterializeResult:
    """Holdout scores (MAE, RMSE, MASE) of every model for every article of one NIT, with the model
    each article's forecast comes from; read from the latest training's files."""
    nit = context.partition_key
    summary, nit_dir = _training_files(paths, nit)
    rows = [
        {**r, "mlflow_run_id": summary["mlflow_run_id"]} for r in files.read_json(nit_dir / files.BACKTEST)
    ]
    with warehouse_db.begin() as conn:
        written = replace_slice(conn, t.demand_backtest, nit, rows)
    aggregate = summary["aggregate"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "nit": nit,
            "mlflow_run_id": summary["mlflow_run_id"],
            "holdout_start": summary["holdout_start"].isoformat(),
            "mase_chosen": _fmt(aggregate["mase_chosen"]),
            "mase_seasonal_naive": _fmt(aggregate["mase_seasonal_naive"]),
            "preview": preview(
                [r for r in rows if r["chosen"]], ["article_code", "model", "mae", "rmse", "mase"]
            ),
        }
    )


@dg.asset(
    key=DEMAND_FORECASTS,
    # Through demand_backtest: its blocking check must pass before forecasts are published.
    deps=[DEMAND_BACKTEST, DEMAND_MODELS],
    partitions_def=nit_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "python"},
    pool="warehouse_db",
    metadata=table_metadata(t.demand_forecasts),
)
def demand_forecasts(
    context: dg.AssetExecutionContext, warehouse_db: SqlDatabase, paths: CarteraPaths
) -> dg.MaterializeResult:
    """The next months of demand per article of one NIT from its chosen model, with lower and upper
    bounds (never negative, lower <= forecast <= upper). Published only when the chosen models beat
    the seasonal-naive baseline on the holdout (blocking check on ``warehouse/demand_backtest``)."""
    nit = context.partition_key
    summary, nit_dir = _training_files(paths, nit)
    rows = [
        {**r, "mlflow_run_id": summary["mlflow_run_id"]} for r in files.read_json(nit_dir / files.FORECASTS)
    ]
    with warehouse_db.begin() as conn:
        written = replace_slice(conn, t.demand_forecasts, nit, rows)
    first = [r for r in rows if r["horizon"] == 1]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "nit": nit,
            "articles": len(first),
            "first_month": min(r["month"] for r in rows).isoformat() if rows else "",
            "last_month": max(r["month"] for r in rows).isoformat() if rows else "",
            "next_month_total_qty": float(sum((r["forecast_qty"] for r in first), Decimal("0"))),
            "models": json.dumps(dict(Counter(r["model"] for r in first))),
            "preview": preview(
                sorted(first, key=lambda r: r["forecast_qty"], reverse=True),
                ["article_code", "month", "model", "lower_qty", "forecast_qty", "upper_qty"],
            ),
        }
    )


@dg.asset(
    key=PURCHASE_RECOMMENDATIONS,
    deps=[DEMAND_FORECASTS, DEMAND_BACKTEST, DEMAND_MONTHLY],
    partitions_def=nit_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "python"},
    pool="warehouse_db",
    metadata=table_metadata(t.purchase_recommendations),
)
def purchase_recommendations(
    context: dg.AssetExecutionContext, config: PolicyConfig, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Per article of one NIT: ABC class (net sales value of the last 12 months), XYZ class
    (coefficient of variation of monthly demand), safety stock and reorder point for the configured
    service level and lead time, from the published forecasts and the chosen model's holdout error."""
    nit = context.partition_key
    settings = config.settings()
    with warehouse_db.begin() as conn:
        forecasts = slice_rows(conn, t.demand_forecasts, nit)
        backtest = slice_rows(conn, t.demand_backtest, nit)
        if not forecasts:
            raise dg.Failure(f"no forecasts for NIT {nit} in demand_forecasts: materialize it first")
        last_observed = add_months(min(r["month"] for r in forecasts), -1)
        history = demand_rows(conn, nit, since=add_months(last_observed, -11))
        rows = recommendations(nit, history, forecasts, backtest, settings, _utcnow())
        written = replace_slice(conn, t.purchase_recommendations, nit, rows)
    classes = Counter(f"{r['abc_class']}{r['xyz_class']}" for r in rows)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "nit": nit,
            "service_level": settings.service_level,
            "lead_time_months": settings.lead_time_months,
            "abc_xyz": dg.MetadataValue.md(
                markdown_table([{"class": c, "articles": n} for c, n in sorted(classes.items())], limit=9)
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
                ],
            ),
        }
    )
