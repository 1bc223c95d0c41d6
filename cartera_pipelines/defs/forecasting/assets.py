"""forecasting assets, one partition per NIT: demand -> models (staged) -> backtest (checked, promotes)
-> forecasts (published) -> purchases; and the accuracy of past forecasts once the demand happened."""

from typing import Any

import dagster as dg

from cartera_pipelines.defs.forecasting import model_files as files
from cartera_pipelines.defs.forecasting import sql
from cartera_pipelines.defs.forecasting import tables as t
from cartera_pipelines.defs.forecasting.accuracy import score
from cartera_pipelines.defs.forecasting.config import DemandConfig, PolicyConfig, TrainingConfig
from cartera_pipelines.defs.forecasting.demand import add_months, monthly_demand
from cartera_pipelines.defs.forecasting.panel import build_panel
from cartera_pipelines.defs.forecasting.plots import accuracy_plot_png, forecast_plot_png, markdown_image
from cartera_pipelines.defs.forecasting.recommend import recommendations
from cartera_pipelines.defs.forecasting.reporting import (
    accuracy_metadata,
    backtest_metadata,
    demand_metadata,
    forecasts_metadata,
    purchases_metadata,
    training_metadata,
)
from cartera_pipelines.defs.forecasting.tracking import log_training
from cartera_pipelines.defs.forecasting.training import NotEnoughHistory, train
from cartera_pipelines.defs.tns.partitions import nit_partitions
from cartera_pipelines.defs.tns.tables import tns_inventory_movements
from cartera_pipelines.lib.dates import BOGOTA, today_in, utcnow
from cartera_pipelines.lib.metadata import table_metadata
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.mlflow import MlflowTracking
from cartera_pipelines.resources.paths import CarteraPaths

MOVEMENTS = dg.AssetKey(["warehouse", "tns_inventory_movements"])
DEMAND_MONTHLY = dg.AssetKey(["warehouse", "demand_monthly"])
DEMAND_MODELS = dg.AssetKey(["models", "demand_models"])
DEMAND_BACKTEST = dg.AssetKey(["warehouse", "demand_backtest"])
DEMAND_FORECASTS = dg.AssetKey(["warehouse", "demand_forecasts"])
PURCHASE_RECOMMENDATIONS = dg.AssetKey(["warehouse", "purchase_recommendations"])
FORECAST_ACCURACY = dg.AssetKey(["warehouse", "forecast_accuracy"])
# The per-NIT chain after the models follows its parents (evaluated by forecasting_automation_sensor).
FOLLOWS_PARENTS = dg.AutomationCondition.eager()


def _require(conn: Any, table: Any, produced_by: str) -> None:
    try:
        sql.require_table(conn, table, produced_by)
    except sql.MissingInput as exc:
        raise dg.Failure(str(exc)) from exc


def _summary(directory: Any) -> dict[str, Any]:
    try:
        return files.read_summary(directory)
    except files.NoTraining as exc:
        raise dg.Failure(str(exc)) from exc


@dg.asset(
    key=DEMAND_MONTHLY,
    # A NIT pools every company-year (<NIT>_<ANOFIS>) of the movements; only its own are read.
    deps=[dg.AssetDep(MOVEMENTS, partition_mapping=dg.AllPartitionMapping())],
    partitions_def=nit_partitions,
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
    article's first movement to the NIT's last month (the month in progress, by Bogotá's date, left
    out); with price and warehouse features."""
    nit = context.partition_key
    last_month = None
    if config.exclude_current_month:
        last_month = add_months(today_in(BOGOTA).replace(day=1), -1)
    with warehouse_db.begin() as conn:
        _require(conn, tns_inventory_movements, "warehouse/tns_inventory_movements")
        rows = list(monthly_demand(nit, sql.movement_groups(conn, nit), last_month=last_month))
        written = sql.replace_slice(conn, t.demand_monthly, nit, rows)
    context.log.info(f"NIT {nit}: {written} article-months")
    return dg.MaterializeResult(metadata=demand_metadata(nit, rows, written))


@dg.asset(
    key=DEMAND_MODELS,
    deps=[DEMAND_MONTHLY],
    partitions_def=nit_partitions,
    kinds={"statsforecast", "xgboost", "mlflow"},
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
    """A *staged* training of one NIT's demand models: Syntetos–Boylan segments; statistical models
    (statsforecast: seasonal naive, seasonal mean, Theta, seasonal exponential smoothing, 12-month
    mean, Croston-SBA, TSB, ADIDA) and one global XGBoost, backtested on ≥ 3 rolling origins; the model
    per article chosen on those windows; a final holdout only scores; conformal bounds from the CV
    residuals. Files under ``CARTERA_HOME/models/.<nit>.staging/`` and one MLflow run (experiment
    ``cartera_demand``, the pyfunc logged, not registered): nothing is published until the blocking
    check on ``warehouse/demand_backtest`` passes."""
    nit = context.partition_key
    mlflow.ensure_reachable()  # before the minutes of training, not after
    with warehouse_db.connect() as conn:
        _require(conn, t.demand_monthly, "warehouse/demand_monthly")
        panel = build_panel(nit, sql.demand_rows(conn, nit))
    settings = config.settings()
    context.log.info(
        f"NIT {nit}: {panel.n_articles} articles x {panel.n_months} months ({settings.n_jobs} processes)"
    )
    try:
        result = train(panel, settings, log=context.log.info)
    except NotEnoughHistory as exc:
        raise dg.Failure(str(exc)) from exc
    trained_at = utcnow().replace(microsecond=0)
    png = forecast_plot_png(result, config.plot_articles) if config.plot_articles else b""
    staged = files.stage(result, paths.ensure(paths.models_dir), trained_at, png)
    run_id, link, model_uri = log_training(
        mlflow, result, config.model_dump(), staged, trained_at, context.run.run_id
    )
    files.set_run(staged, run_id, model_uri)
    context.log.info(f"MLflow run {run_id}: {link}")
    metadata = training_metadata(result, run_id, link, staged)
    if png:
        metadata["forecast_plot"] = dg.MetadataValue.md(markdown_image(png, f"forecasts of NIT {nit}"))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=DEMAND_BACKTEST,
    deps=[DEMAND_MODELS],
    partitions_def=nit_partitions,
    kinds={"postgres", "python"},
    pool="warehouse_db",
    metadata=table_metadata(t.demand_backtest),
    automation_condition=FOLLOWS_PARENTS,
)
def demand_backtest(
    context: dg.AssetExecutionContext, warehouse_db: SqlDatabase, paths: CarteraPaths
) -> dg.MaterializeResult:
    """Holdout scores (MAE, RMSE, MASE, RMSSE) of every model for every article of one NIT, with its
    segment and the model the choice on the CV windows picked; from the *staged* training. Its blocking
    check decides whether that training is published."""
    nit = context.partition_key
    staged = files.staging_dir(paths.models_dir, nit)
    summary = _summary(staged)
    rows = files.read_json(staged / files.BACKTEST)
    with warehouse_db.begin() as conn:
        written = sql.replace_slice(conn, t.demand_backtest, nit, rows)
    return dg.MaterializeResult(metadata=backtest_metadata(nit, summary, rows, written))


@dg.asset(
    key=DEMAND_FORECASTS,
    # Through demand_backtest: its blocking check promotes a training before anything is published.
    deps=[DEMAND_BACKTEST, DEMAND_MODELS],
    partitions_def=nit_partitions,
    kinds={"postgres", "python"},
    pool="warehouse_db",
    metadata=table_metadata(t.demand_forecasts),
    automation_condition=FOLLOWS_PARENTS,
)
def demand_forecasts(
    context: dg.AssetExecutionContext, warehouse_db: SqlDatabase, paths: CarteraPaths
) -> dg.MaterializeResult:
    """The next months of demand per article of one NIT from the *published* (vetted) training, with
    80 % bounds (never negative, lower <= forecast <= upper). Every publication is also kept in
    ``demand_forecast_history`` under its training date, so it can be scored later. A staged training
    that has not passed its check is never read here."""
    nit = context.partition_key
    published = files.published_dir(paths.models_dir, nit)
    summary = _summary(published)
    rows = files.read_json(published / files.FORECASTS)
    history = [{k: v for k, v in r.items() if k in t.demand_forecast_history.c} for r in rows]
    with warehouse_db.begin() as conn:
        written = sql.replace_slice(conn, t.demand_forecasts, nit, rows)
        sql.replace_history(conn, nit, summary["trained_at"], history)
    return dg.MaterializeResult(metadata=forecasts_metadata(nit, summary, rows, written))


@dg.asset(
    key=PURCHASE_RECOMMENDATIONS,
    deps=[DEMAND_FORECASTS, DEMAND_MONTHLY],
    partitions_def=nit_partitions,
    kinds={"postgres", "python"},
    pool="warehouse_db",
    metadata=table_metadata(t.purchase_recommendations),
    automation_condition=FOLLOWS_PARENTS,
)
def purchase_recommendations(
    context: dg.AssetExecutionContext, config: PolicyConfig, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Per article of one NIT: ABC class (net sales value of the last 12 months), XYZ class (coefficient
    of variation; N for articles under 12 months), the σ the published bounds imply, safety stock over
    lead time plus review period, reorder point (order-up-to level) and the usual order quantity, dated
    by Bogotá's calendar."""
    nit = context.partition_key
    settings = config.settings()
    with warehouse_db.begin() as conn:
        forecasts = sql.slice_rows(conn, t.demand_forecasts, nit)
        if not forecasts:
            raise dg.Failure(f"no forecasts for NIT {nit} in demand_forecasts: materialize it first")
        last_observed = add_months(min(r["month"] for r in forecasts), -1)
        history = sql.demand_rows(conn, nit, since=add_months(last_observed, -11))
        rows = recommendations(nit, history, forecasts, settings, utcnow(), today_in(BOGOTA))
        written = sql.replace_slice(conn, t.purchase_recommendations, nit, rows)
    return dg.MaterializeResult(metadata=purchases_metadata(nit, settings, rows, written))


@dg.asset(
    key=FORECAST_ACCURACY,
    deps=[DEMAND_MONTHLY, DEMAND_FORECASTS],
    partitions_def=nit_partitions,
    kinds={"postgres", "python"},
    pool="warehouse_db",
    metadata=table_metadata(t.forecast_accuracy),
)
def forecast_accuracy(context: dg.AssetExecutionContext, warehouse_db: SqlDatabase) -> dg.MaterializeResult:
    """How accurate every published forecast of one NIT turned out: each row of
    ``demand_forecast_history`` whose month has happened, scored against ``demand_monthly`` per training,
    horizon and segment — MAE, seasonal naive's MAE on the same article-months, value added over it,
    bias and coverage of the bounds. Monthly (``forecasting_accuracy_schedule``), with a plot."""
    nit = context.partition_key
    with warehouse_db.begin() as conn:
        history = sql.forecast_history(conn, nit)
        rows = score(history, sql.actual_demand(conn, nit), nit, utcnow())
        written = sql.replace_slice(conn, t.forecast_accuracy, nit, rows)
    metadata = accuracy_metadata(nit, rows, written)
    png = accuracy_plot_png(rows)
    if png:
        metadata["accuracy_plot"] = dg.MetadataValue.md(
            markdown_image(png, f"forecast accuracy of NIT {nit}")
        )
    return dg.MaterializeResult(metadata=metadata)
