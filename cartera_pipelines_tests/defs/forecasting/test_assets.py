"""The asset chain through dg.materialize on SQLite and the real PostgreSQL, with MLflow embedded:
staged training, blocking check that promotes, published forecasts kept per training, accuracy."""

import datetime as dt
import time
from collections import defaultdict
from decimal import Decimal

import dagster as dg
import mlflow
import numpy as np
import pandas as pd

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
PERFECT = np.array([5, 9, 14, 20, 26, 30, 28, 22, 16, 10, 6, 4], dtype=float)


def _seed(url: str, articles: int = 12) -> np.ndarray:
    # noisy enough that last year's month (seasonal naive) is a poor guess a smoother model beats
    demand = seasonal_demand(articles, 36, seed=11, noise=0.15)
    demand[0, 5:8] = 0  # months without sales: must come back as zero rows
    seed_movements(url, NIT, demand)
    seed_movements(url, OTHER_NIT, seasonal_demand(2, 36, seed=12) + 1000)  # must not leak into NIT
    return demand


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}


def _check_chain(url: str, home, demand: np.ndarray) -> dg.ExecuteInProcessResult:
    result = materialize(url, home, NIT)
    assert result.success

    monthly = table_rows(url, t.demand_monthly, NIT)
    got = defaultdict(dict)
    for row in monthly:
        got[row["article_code"]][row["month"]] = row["demand_qty"]
    assert len(got) == demand.shape[0]
    for a in range(demand.shape[0]):
        series = got[f"ART{a:03d}"]
        assert [series[add_months(FIRST_MONTH, m)] for m in range(36)] == [Decimal(int(v)) for v in demand[a]]
    assert all(isinstance(r["demand_qty"], Decimal) for r in monthly)

    backtest = table_rows(url, t.demand_backtest, NIT)
    assert sorted(r["article_code"] for r in backtest if r["chosen"]) == [
        f"ART{a:03d}" for a in range(demand.shape[0])
    ]
    assert {r["segment"] for r in backtest} <= {"smooth", "erratic", "intermittent", "lumpy", "new"}
    checks = _checks(result)
    assert checks["training_beats_baselines"] is True
    assert all(checks.values()), checks

    forecasts = table_rows(url, t.demand_forecasts, NIT)
    assert len(forecasts) == demand.shape[0] * 6
    assert {r["month"] for r in forecasts} == {add_months(FIRST_MONTH, 36 + h) for h in range(6)}
    assert all(Decimal(0) <= r["lower_qty"] <= r["forecast_qty"] <= r["upper_qty"] for r in forecasts)
    assert all(r["segment"] for r in forecasts)

    history = table_rows(url, t.demand_forecast_history, NIT)
    assert len(history) == len(forecasts)

    recommendations = table_rows(url, t.purchase_recommendations, NIT)
    assert len(recommendations) == demand.shape[0]
    assert all(r["reorder_point"] == r["lead_time_demand"] + r["safety_stock"] for r in recommendations)
    assert all(r["order_qty"] >= 0 and r["as_of"] is not None for r in recommendations)

    assert table_rows(url, t.demand_monthly, OTHER_NIT) == []
    return result


def test_chain_on_sqlite_publishes_registers_champion_and_keeps_history(sqlite_url, home):
    demand = _seed(sqlite_url)
    result = _check_chain(sqlite_url, home, demand)

    metadata = result.asset_materializations_for_node("models__demand_models")[0].metadata
    run_id = metadata["mlflow_run_id"].value
    assert metadata["forecast_plot"].value.startswith("![")
    assert (home / "models" / NIT / "forecasts.json").exists()  # promoted
    assert not (home / "models" / f".{NIT}.staging").exists()

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.data.params["nit"] == NIT
    assert run.data.metrics["relative_error_vs_seasonal_naive"] < 1
    versions = client.search_model_versions(f"name='demand_{NIT}'")
    assert len(versions) == 1
    champion = client.get_model_version_by_alias(f"demand_{NIT}", "champion")
    assert champion.version == versions[0].version

    # the registered model is self-contained: history in, forecasts out
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(f"models:/demand_{NIT}@champion")
    history = pd.DataFrame(
        [
            {
                "article_code": "ART001",
                "month": add_months(FIRST_MONTH, m).isoformat(),
                "demand_qty": float(demand[1, m]),
            }
            for m in range(36)
        ]
    )
    out = model.predict(history)
    assert (
        len(out) == 6 and (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()
    )

    # a second training replaces the current slices, keeps both trainings in the history
    before = {name: len(table_rows(sqlite_url, table, NIT)) for name, table in _TABLES.items()}
    time.sleep(1.1)  # trainings are dated to the second
    assert materialize(sqlite_url, home, NIT).success
    assert {name: len(table_rows(sqlite_url, table, NIT)) for name, table in _TABLES.items()} == before
    history = table_rows(sqlite_url, t.demand_forecast_history, NIT)
    assert len({r["trained_at"] for r in history}) == 2
    assert len(client.search_model_versions(f"name='demand_{NIT}'")) == 2


def test_chain_on_postgresql(postgres_url, home):
    _check_chain(postgres_url, home, _seed(postgres_url))


def test_a_blocked_training_publishes_nothing_and_keeps_the_vetted_one(sqlite_url, home):
    """A pattern that repeats exactly every year: seasonal naive is perfect on the holdout, nothing beats
    it. The earlier vetted training stays published; demand_forecasts alone re-publishes only it."""
    demand = _seed(sqlite_url)
    first = _check_chain(sqlite_url, home, demand)
    published_at = {r["trained_at"] for r in table_rows(sqlite_url, t.demand_forecasts, NIT)}
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    assert first.success and len(client.search_model_versions(f"name='demand_{NIT}'")) == 1

    # the NIT's demand becomes a perfect yearly pattern (other company-years replaced)
    import sqlalchemy as sa

    from cartera_pipelines.defs.tns.tables import tns_inventory_movements as mv
    from cartera_pipelines.resources.database import create_store_engine

    engine = create_store_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(mv).where(mv.c.company_nit == NIT))
    engine.dispose()
    perfect = np.tile(PERFECT, (3, 3))
    perfect[:, 0] += 7
    seed_movements(sqlite_url, NIT, perfect, returns_every=10_000, extra_documents=False)
    time.sleep(1.1)
    blocked = materialize(sqlite_url, home, NIT, raise_on_error=False)
    assert _checks(blocked)["training_beats_baselines"] is False
    materialized = {e.asset_key.path[-1] for e in blocked.get_asset_materialization_events()}
    assert "demand_forecasts" not in materialized and "purchase_recommendations" not in materialized
    assert {r["trained_at"] for r in table_rows(sqlite_url, t.demand_forecasts, NIT)} == published_at
    assert (home / "models" / f".{NIT}.staging").exists()  # staged, never promoted
    assert len(client.search_model_versions(f"name='demand_{NIT}'")) == 1  # no registration when blocked

    alone = materialize(sqlite_url, home, NIT, selection=["warehouse/demand_forecasts"])
    assert alone.success
    assert {r["trained_at"] for r in table_rows(sqlite_url, t.demand_forecasts, NIT)} == published_at


def test_forecasts_alone_never_publish_a_staged_training(sqlite_url, home):
    _seed(sqlite_url, articles=3)
    staged_only = materialize(
        sqlite_url, home, NIT, selection=["warehouse/demand_monthly", "models/demand_models"]
    )
    assert staged_only.success
    result = materialize(
        sqlite_url, home, NIT, selection=["warehouse/demand_forecasts"], raise_on_error=False
    )
    assert not result.success
    assert table_rows(sqlite_url, t.demand_forecasts, NIT) == []


def test_accuracy_scores_past_forecasts_against_what_happened(sqlite_url, home):
    demand = _seed(sqlite_url, articles=3)
    assert materialize(sqlite_url, home, NIT, selection=["warehouse/demand_monthly"]).success
    # a forecast published a year ago for months that have now happened: 10 for every article-month
    trained = dt.datetime(2023, 12, 5, tzinfo=dt.UTC)
    from cartera_pipelines.lib.bulk import insert_rows
    from cartera_pipelines.lib.schema import ensure_schema
    from cartera_pipelines.resources.database import create_store_engine

    engine = create_store_engine(sqlite_url)
    ensure_schema(engine)
    rows = [
        {
            "nit": NIT,
            "trained_at": trained,
            "article_code": f"ART{a:03d}",
            "month": add_months(FIRST_MONTH, 24 + h),
            "horizon": h + 1,
            "model": "mean_12",
            "segment": "smooth",
            "forecast_qty": Decimal(10),
            "lower_qty": Decimal(0),
            "upper_qty": Decimal(1000),
            "mlflow_run_id": None,
        }
        for a in range(3)
        for h in range(6)
    ]
    with engine.begin() as conn:
        insert_rows(conn, t.demand_forecast_history, rows)
    engine.dispose()
    result = materialize(sqlite_url, home, NIT, selection=["warehouse/forecast_accuracy"])
    assert result.success
    scored = {(r["horizon"], r["segment"]): r for r in table_rows(sqlite_url, t.forecast_accuracy, NIT)}
    assert set(scored) == {(h, s) for h in range(1, 7) for s in ("smooth", "all")}
    h1 = scored[(1, "all")]
    actual = demand[:, 24]
    assert h1["articles"] == 3 and h1["coverage"] == 1.0
    assert abs(h1["mae"] - np.mean(np.abs(10 - actual))) < 1e-9
    assert abs(h1["mae_seasonal_naive"] - np.mean(np.abs(demand[:, 12] - actual))) < 1e-9
    metadata = result.asset_materializations_for_node("warehouse__forecast_accuracy")[0].metadata
    assert "data:image/png;base64," in metadata["accuracy_plot"].value


def test_missing_movements_table_is_a_clear_failure(sqlite_url, home):
    result = materialize(sqlite_url, home, NIT, selection=["warehouse/demand_monthly"], raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "tns_inventory_movements does not exist" in failure.message


def test_unreachable_mlflow_fails_fast_naming_the_variable(sqlite_url, home):
    _seed(sqlite_url, articles=2)
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
