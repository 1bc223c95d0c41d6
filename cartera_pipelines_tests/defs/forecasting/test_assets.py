"""The asset chain through dg.materialize on SQLite and the real PostgreSQL, with MLflow embedded."""

from collections import defaultdict
from decimal import Decimal

import dagster as dg
import mlflow
import numpy as np

from cartera_pipelines.defs.forecasting import tables as t
from cartera_pipelines.defs.forecasting.demand import add_months
from cartera_pipelines_tests.defs.forecasting.conftest import (
    FIRST_MONTH,
    materialize,
    seed_movements,
    table_rows,
)
from cartera_pipelines_tests.defs.forecasting.synthetic import seasonal_demand

NIT, OTHER_NIT = "900123456", "800999111"
_TABLES = {
    "monthly": t.demand_monthly,
    "backtest": t.demand_backtest,
    "forecasts": t.demand_forecasts,
    "purchases": t.purchase_recommendations,
}


def _seed(url: str, articles: int = 5) -> np.ndarray:
    # noisy enough that last year's month (seasonal naive) is a poor guess a smoother model beats
    demand = seasonal_demand(articles, 36, seed=11, noise=0.3)
    demand[0, 5:8] = 0  # months without sales: must come back as zero rows
    seed_movements(url, NIT, demand)
    seed_movements(url, OTHER_NIT, seasonal_demand(2, 36, seed=12) + 1000)  # must not leak into NIT
    return demand


def _check_chain(url: str, home, demand: np.ndarray) -> dg.ExecuteInProcessResult:
    result = materialize(url, home, NIT)
    assert result.success

    # demand_monthly: sales - returns pooled over the three company-years, zero months present
    monthly = table_rows(url, t.demand_monthly, NIT)
    got = defaultdict(dict)
    for row in monthly:
        got[row["article_code"]][row["month"]] = row["demand_qty"]
    assert len(got) == demand.shape[0]
    for a in range(demand.shape[0]):
        series = got[f"ART{a:03d}"]
        assert [series[add_months(FIRST_MONTH, m)] for m in range(36)] == [Decimal(int(v)) for v in demand[a]]
    assert [got["ART000"][add_months(FIRST_MONTH, m)] for m in (5, 6, 7)] == [0, 0, 0]
    assert all(isinstance(r["demand_qty"], Decimal) for r in monthly)
    assert sum(r["returns_qty"] for r in monthly) > 0

    # backtest: one chosen model per article; the blocking check passed
    backtest = table_rows(url, t.demand_backtest, NIT)
    assert sorted(r["article_code"] for r in backtest if r["chosen"]) == [
        f"ART{a:03d}" for a in range(demand.shape[0])
    ]
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["chosen_models_beat_seasonal_naive"] is True
    assert all(checks.values()), checks

    # forecasts: next 6 months, non-negative, ordered bounds, model named
    forecasts = table_rows(url, t.demand_forecasts, NIT)
    assert len(forecasts) == demand.shape[0] * 6
    assert {r["month"] for r in forecasts} == {add_months(FIRST_MONTH, 36 + h) for h in range(6)}
    assert all(Decimal(0) <= r["lower_qty"] <= r["forecast_qty"] <= r["upper_qty"] for r in forecasts)
    assert {r["model"] for r in forecasts} <= {"prophet", "xgboost", "seasonal_naive", "ensemble"}

    recommendations = table_rows(url, t.purchase_recommendations, NIT)
    assert len(recommendations) == demand.shape[0]
    assert {r["abc_class"] for r in recommendations} <= {"A", "B", "C"}
    assert all(r["reorder_point"] == r["lead_time_demand"] + r["safety_stock"] for r in recommendations)

    # the other NIT was never read
    assert table_rows(url, t.demand_monthly, OTHER_NIT) == []
    return result


def test_chain_on_sqlite_with_mlflow_run_and_registered_model(sqlite_url, home):
    demand = _seed(sqlite_url)
    result = _check_chain(sqlite_url, home, demand)

    metadata = result.asset_materializations_for_node("models__demand_models")[0].metadata
    run_id = metadata["mlflow_run_id"].value
    plot = metadata["forecast_plot"].value
    assert plot.startswith("![") and "data:image/png;base64," in plot and len(plot) < 200_000
    assert metadata["mase_chosen"].value < metadata["mase_seasonal_naive"].value
    assert (home / "models" / NIT / "xgboost_model.json").exists()
    assert (home / "models" / NIT / "forecast_plot.png").exists()

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cartera_demand")
    run = client.get_run(run_id)
    assert run.info.experiment_id == experiment.experiment_id
    assert run.data.params["holdout_months"] == "6" and run.data.params["nit"] == NIT
    assert run.data.metrics["mase_chosen"] < run.data.metrics["mase_seasonal_naive"]
    artifacts = {a.path for a in client.list_artifacts(run_id, "model_files")}
    assert {
        "model_files/forecast_plot.png",
        "model_files/xgboost_model.json",
        "model_files/backtest.json",
    } <= artifacts
    versions = client.search_model_versions(f"name='demand_xgboost_{NIT}'")
    assert [v.run_id for v in versions] == [run_id]

    # a second run replaces the slices (same rows, no duplicates) and registers a new model version
    before = {name: len(table_rows(sqlite_url, table, NIT)) for name, table in _TABLES.items()}
    again = materialize(sqlite_url, home, NIT)
    assert again.success
    assert {name: len(table_rows(sqlite_url, table, NIT)) for name, table in _TABLES.items()} == before
    assert len(client.search_model_versions(f"name='demand_xgboost_{NIT}'")) == 2


def test_chain_on_postgresql(postgres_url, home):
    _check_chain(postgres_url, home, _seed(postgres_url))


def test_blocking_check_stops_forecasts_when_naive_is_not_beaten(sqlite_url, home):
    """A pattern that repeats exactly every year: seasonal naive is perfect on the holdout, nothing beats it."""
    pattern = np.array([5, 9, 14, 20, 26, 30, 28, 22, 16, 10, 6, 4], dtype=float)
    demand = np.tile(pattern, (3, 3))
    demand[:, 0] += 7  # one odd month in the first year keeps the MASE scale positive
    seed_movements(sqlite_url, NIT, demand, returns_every=10_000, extra_documents=False)
    result = materialize(sqlite_url, home, NIT, raise_on_error=False)
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["chosen_models_beat_seasonal_naive"] is False
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "demand_backtest" in materialized
    assert "demand_forecasts" not in materialized and "purchase_recommendations" not in materialized
    assert table_rows(sqlite_url, t.demand_forecasts, NIT) == []


def test_missing_movements_table_is_a_clear_failure(sqlite_url, home):
    result = materialize(sqlite_url, home, NIT, selection=["warehouse/demand_monthly"], raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "tns_inventory_movements does not exist" in failure.message


def test_unreachable_mlflow_fails_fast_naming_the_variable(sqlite_url, home):
    _seed(sqlite_url, articles=2)
    import time

    started = time.monotonic()
    result = materialize(
        sqlite_url,
        home,
        NIT,
        selection=["warehouse/demand_monthly", "models/demand_models"],
        mlflow_uri="http://127.0.0.1:9",
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.get_step_failure_events() if e.step_key == "models__demand_models")
    message = failure.step_failure_data.user_failure_data.description
    assert "MLFLOW_TRACKING_URI" in message and "not reachable" in message
    assert time.monotonic() - started < 60
    assert not (home / "models" / NIT).exists()
