"""Fixtures for the forecasting asset tests: a warehouse seeded with synthetic TNS movements."""

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.forecasting import assets, checks
from cartera_pipelines.defs.tns.tables import tns_inventory_movements
from cartera_pipelines.lib.bulk import insert_rows
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.database import SqlDatabase, create_store_engine
from cartera_pipelines.resources.mlflow import MlflowTracking
from cartera_pipelines.resources.paths import CarteraPaths
from cartera_pipelines_tests.defs.forecasting.synthetic import movement_rows

FIRST_MONTH = dt.date(2022, 1, 1)
ASSETS = [
    assets.demand_monthly,
    assets.demand_models,
    assets.demand_backtest,
    assets.demand_forecasts,
    assets.purchase_recommendations,
    assets.forecast_accuracy,
]
CHECKS = [
    checks.training_beats_baselines,
    checks.bounds_cover_nominal_on_backtest,
    checks.one_chosen_model_per_article,
    checks.months_contiguous_and_balanced,
    checks.bounds_ordered_and_non_negative,
    checks.reorder_point_covers_lead_time_demand,
]
FAST_TRAINING = {"n_jobs": 1, "plot_articles": 2}


def seed_movements(url: str, nit: str, demand: np.ndarray, **kwargs: Any) -> int:
    engine = create_store_engine(url)
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            return insert_rows(
                conn, tns_inventory_movements, movement_rows(nit, demand, FIRST_MONTH, **kwargs)
            )
    finally:
        engine.dispose()


def resources_for(url: str, home: Path, mlflow_uri: str | None = None) -> dict[str, Any]:
    return {
        "warehouse_db": SqlDatabase(url=url, store="warehouse"),
        "mlflow": MlflowTracking(
            tracking_uri=mlflow_uri or f"sqlite:///{home / 'mlflow.db'}",
            artifacts_dir=str(home / "mlruns"),
            embedded=mlflow_uri is None,
        ),
        "paths": CarteraPaths(home=str(home)),
    }


def materialize(
    url: str,
    home: Path,
    nit: str,
    *,
    selection: list | None = None,
    training: dict | None = None,
    **kwargs: Any,
) -> dg.ExecuteInProcessResult:
    instance = kwargs.pop("instance", None)
    if instance is None:
        with dg.DagsterInstance.ephemeral() as ephemeral:
            return materialize(
                url, home, nit, selection=selection, training=training, instance=ephemeral, **kwargs
            )
    instance.add_dynamic_partitions("tns_nits", [nit])
    return dg.materialize(
        [*ASSETS, *CHECKS],
        selection=selection,
        partition_key=nit,
        instance=instance,
        resources=resources_for(url, home, kwargs.pop("mlflow_uri", None)),
        run_config=(
            {"ops": {"models__demand_models": {"config": {**FAST_TRAINING, **(training or {})}}}}
            if selection is None or "models/demand_models" in selection
            else None
        ),
        **kwargs,
    )


def table_rows(url: str, table: sa.Table, nit: str) -> list[dict[str, Any]]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table.name):
                return []
            return [dict(r._mapping) for r in conn.execute(sa.select(table).where(table.c.nit == nit))]
    finally:
        engine.dispose()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "cartera_home"
