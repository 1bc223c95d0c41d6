"""The inventory analytics assets through ``dg.materialize`` on SQLite and the real PostgreSQL: one
partition (Ecuador's date) end to end, its checks, the Excel report and the plot, idempotent re-runs,
group and owners from the family's ``defs.yaml``, and the automation condition."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import dagster as dg
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from cartera_pipelines.defs.contifico.analytics import assets, checks, sql, tables
from cartera_pipelines.defs.contifico.analytics.partitions import ecuador_days
from cartera_pipelines.defs.contifico.automation import contifico_automation_sensor, contifico_sync_job
from cartera_pipelines.resources import CarteraPaths, SqlDatabase
from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines_tests.defs.contifico.analytics_data import AS_OF, load, small_dataset

ASSETS = [
    assets.contifico_sales_velocity,
    assets.contifico_stock_position,
    assets.contifico_turnover,
    assets.contifico_supplier_lead_times,
    assets.contifico_reorder_suggestions,
]
CHECKS = [
    checks.velocities_not_negative,
    checks.coverage_consistent,
    checks.every_stocked_product_once_per_warehouse,
    checks.lead_times_within_data_range,
]


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("postgres_url")


def _name(check: dg.AssetChecksDefinition) -> str:
    return next(iter(check.check_specs)).name


def _run(url: str, home, day: dt.date = AS_OF, **config) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*ASSETS, *CHECKS],
        resources={
            "warehouse_db": SqlDatabase(url=url, store="warehouse"),
            "paths": CarteraPaths(home=str(home)),
        },
        partition_key=day.isoformat(),
        run_config=dg.RunConfig(config) if config else None,
    )


def test_one_day_end_to_end_with_checks_report_and_plot(warehouse_url: str, tmp_path) -> None:
    engine = create_store_engine(warehouse_url)
    load(engine, small_dataset())
    result = _run(warehouse_url, tmp_path)
    assert result.success
    evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(evaluations) == {_name(c) for c in CHECKS}
    assert all(e.passed for e in evaluations.values()), {k: e.description for k, e in evaluations.items()}
    meta = result.asset_materializations_for_node("warehouse__contifico_reorder_suggestions")[0].metadata
    assert meta["products_to_order"].value == 1
    assert "data:image/png;base64," in meta["at_risk_chart"].value
    workbook = load_workbook(meta["report"].value)
    assert workbook.sheetnames == ["Resumen", "Bodega Norte", "Bodega Sur Centro", "Sin bodega"]
    summary = workbook["Resumen"]
    assert [c.value for c in summary[3]][:2] == [1, "P5"]
    with engine.connect() as conn:
        first = {t.name: sql.read_slice(conn, t, AS_OF) for t in tables.ANALYTICS_TABLES}
    # a re-run replaces the slice: same rows, nothing doubled
    assert _run(warehouse_url, tmp_path).success
    with engine.connect() as conn:
        again = {t.name: sql.read_slice(conn, t, AS_OF) for t in tables.ANALYTICS_TABLES}
    strip = lambda rows: [{k: v for k, v in r.items() if k != "computed_at"} for r in rows]  # noqa: E731
    assert {k: strip(v) for k, v in again.items()} == {k: strip(v) for k, v in first.items()}
    engine.dispose()


def test_days_accumulate_and_a_day_replaces_only_its_slice(warehouse_url: str, tmp_path) -> None:
    engine = create_store_engine(warehouse_url)
    load(engine, small_dataset())
    earlier = AS_OF - dt.timedelta(days=20)
    assert _run(warehouse_url, tmp_path, earlier).success
    assert _run(warehouse_url, tmp_path).success
    with engine.connect() as conn:
        days = conn.execute(sa.select(sa.distinct(tables.stock_position.c.as_of))).scalars().all()
        # before the 2026-03-20 exit P1's 90 days had no exits: its sales sat in no warehouse
        then = sql.read_slice(conn, tables.sales_velocity, earlier, product_id="P1")
    assert sorted(days) == [earlier, AS_OF]
    assert {r["warehouse_id"] for r in then} == {"*", "-"}
    engine.dispose()


def test_the_reorder_policy_comes_from_run_config(warehouse_url: str, tmp_path) -> None:
    engine = create_store_engine(warehouse_url)
    load(engine, small_dataset())
    config = {
        "warehouse__contifico_reorder_suggestions": {
            "config": {"service_level": 0.5001, "target_coverage_days": 90}
        }
    }
    assert _run(warehouse_url, tmp_path, **config).success
    with engine.connect() as conn:
        p5 = sql.read_slice(conn, tables.reorder_suggestions, AS_OF, product_id="P5", warehouse_id="*")[0]
    # z(0.5001) ≈ 0: (almost) no safety stock, so 3 in stock is above the reorder point (7 days × 0.066667)
    assert p5["safety_stock"] < Decimal("0.01")
    assert p5["reorder_point"] < p5["stock"] and p5["suggested_quantity"] == 0
    engine.dispose()


def test_group_owners_partitions_and_automation() -> None:
    resources = {"warehouse_db": SqlDatabase(url="sqlite://"), "paths": CarteraPaths(home="unused")}
    defs = dg.Definitions(
        assets=ASSETS, asset_checks=CHECKS, sensors=[contifico_automation_sensor], resources=resources
    )
    graph = defs.resolve_asset_graph()
    for asset in ASSETS:
        node = graph.get(asset.key)
        assert node.partitions_def == ecuador_days
        assert node.automation_condition is not None
    assert ecuador_days.timezone == "America/Guayaquil"


def test_the_family_yaml_gives_the_analytics_its_group_and_owners() -> None:
    from cartera_pipelines.definitions import defs

    loaded = defs() if callable(defs) else defs
    graph = loaded.resolve_asset_graph()
    for asset in ASSETS:
        node = graph.get(asset.key)
        assert node.group_name == "contifico"
        assert node.owners == ["team:contifico"]
    # the (unpartitioned) sync job leaves the daily analytics out; the family's sensor evaluates them
    sync = loaded.resolve_job_def(contifico_sync_job.name)
    assert sync.partitions_def is None
    assert not {a.key for a in ASSETS} & set(sync.asset_layer.selected_asset_keys)
    assert contifico_automation_sensor.asset_selection.resolve(graph) >= {a.key for a in ASSETS}


def test_the_checks_catch_what_they_guard(warehouse_url: str, tmp_path) -> None:
    """A coverage that disagrees, a stocked product without its row, a negative velocity and a lead time
    longer than the data: each check fails on its own offender."""
    engine = create_store_engine(warehouse_url)
    load(engine, small_dataset())
    assert _run(warehouse_url, tmp_path).success
    sp, v, lt = tables.stock_position, tables.sales_velocity, tables.supplier_lead_times
    with engine.begin() as conn:
        conn.execute(
            sp.update().where(sp.c.product_id == "P1", sp.c.warehouse_id == "*").values(days_coverage=1)
        )
        conn.execute(sp.delete().where(sp.c.product_id == "P3"))
        conn.execute(sp.delete().where(sp.c.product_id == "P1", sp.c.warehouse_id == "W2"))
        conn.execute(v.update().where(v.c.product_id == "P5").values(velocity_30=-1))
        conn.execute(lt.update().where(lt.c.product_id == "P1").values(max_days=9999))
    # run alone (no partition), each check looks at the latest slice: the one just corrupted
    db = SqlDatabase(url=warehouse_url, store="warehouse")
    results = {_name(check): check(dg.build_asset_check_context(), warehouse_db=db) for check in CHECKS}
    failed = {name: r.metadata["offenders"].value for name, r in results.items() if not r.passed}
    assert failed == {
        "coverage_consistent": 1,
        "every_stocked_product_once_per_warehouse": 2,
        "velocities_not_negative": 2,
        "lead_times_within_data_range": 2,
    }
    engine.dispose()


def test_sources_without_statistics_are_analyzed_once(postgres_url: str) -> None:
    """Right after a sync PostgreSQL has no statistics on the synced tables (and plans nested loops over
    them): the measure analyzes them first, and not again while they are fresh."""
    engine = create_store_engine(postgres_url)
    load(engine, small_dataset())
    names = ("contifico_sales", "contifico_sales_lines")
    with engine.begin() as conn:
        assert sorted(sql.refresh_statistics(conn, names)) == sorted(names)
    with engine.begin() as conn:
        assert sql.refresh_statistics(conn, names) == []
    engine.dispose()
