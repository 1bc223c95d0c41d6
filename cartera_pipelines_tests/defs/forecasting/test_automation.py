"""The weekly retrain schedule and the sensor that follows movements materializations."""

import datetime as dt

import dagster as dg

from cartera_pipelines.defs.forecasting.assets import DEMAND_MONTHLY, MOVEMENTS
from cartera_pipelines.defs.forecasting.automation import (
    forecasting_accuracy_schedule,
    forecasting_automation_sensor,
    forecasting_train_job,
    forecasting_weekly_schedule,
    nits_from_company_years,
    tns_movements_updated_sensor,
)


def test_weekly_schedule_requests_one_run_per_nit():
    with dg.instance_for_test() as instance:
        _weekly_schedule(instance)


def _weekly_schedule(instance: dg.DagsterInstance) -> None:
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 23, 3, 0)
    )
    assert isinstance(forecasting_weekly_schedule(context), dg.SkipReason)
    instance.add_dynamic_partitions("tns_nits", ["900123456", "800999111"])
    requests = forecasting_weekly_schedule(context)
    assert [r.partition_key for r in requests] == ["800999111", "900123456"]
    assert all(r.tags["singleton"] == f"forecasting_{r.partition_key}" for r in requests)
    assert len({r.run_key for r in requests}) == 2
    assert forecasting_weekly_schedule.cron_schedule == "0 3 * * 1"


def test_sensor_requests_the_nits_whose_movements_changed(dagster_instance: dg.DagsterInstance):
    instance = dagster_instance
    instance.add_dynamic_partitions("tns_nits", ["900123456", "800999111"])
    instance.add_dynamic_partitions("tns_company_years", ["900123456_2023", "900123456_2024", "777_2024"])
    context = dg.build_sensor_context(instance=instance)
    assert isinstance(tns_movements_updated_sensor(context), dg.SkipReason)

    for key in ("900123456_2023", "900123456_2024", "777_2024"):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=MOVEMENTS, partition=key))
    result = tns_movements_updated_sensor(context)
    assert [r.partition_key for r in result.run_requests] == ["900123456"]  # both years, one run; 777 unknown
    assert result.cursor

    # nothing new since the cursor: no runs
    again = tns_movements_updated_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert isinstance(again, dg.SkipReason)


def test_first_tick_after_the_demo_requests_nothing_for_nits_trained_since_their_movements(
    dagster_instance: dg.DagsterInstance,
):
    """The demo extracts movements and then trains every NIT: the sensor's first tick must not train
    them again (a calm UI after `make demo`), but a NIT whose movements came after its training is due."""
    instance = dagster_instance
    instance.add_dynamic_partitions("tns_nits", ["900123456", "800999111"])
    instance.add_dynamic_partitions("tns_company_years", ["900123456_2024", "800999111_2024"])
    for key in ("900123456_2024", "800999111_2024"):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=MOVEMENTS, partition=key))
    for nit in ("900123456", "800999111"):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=DEMAND_MONTHLY, partition=nit))
    first = tns_movements_updated_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(first, dg.SensorResult) and first.run_requests == [] and first.cursor

    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=MOVEMENTS, partition="800999111_2024")
    )
    later = tns_movements_updated_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert [r.partition_key for r in later.run_requests] == ["800999111"]


def test_nits_from_company_years():
    assert nits_from_company_years(["1_2024", "1_2023", "2_2024", "bad", None], {"1"}) == (
        ["1"],
        ["2_2024", "bad"],
    )


def test_job_covers_the_family():
    from cartera_pipelines.definitions import defs

    graph = defs().resolve_asset_graph()
    keys = {k.to_user_string() for k in forecasting_train_job.selection.resolve(graph)}  # type: ignore[union-attr]
    assert keys == {
        "warehouse/demand_monthly",
        "models/demand_models",
        "warehouse/demand_backtest",
        "warehouse/demand_forecasts",
        "warehouse/purchase_recommendations",
    }


def test_monthly_accuracy_schedule_requests_one_run_per_nit():
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 12, 2, 6)
        ) as context,
    ):
        assert isinstance(forecasting_accuracy_schedule(context), dg.SkipReason)
        instance.add_dynamic_partitions("tns_nits", ["900123456"])
        (request,) = forecasting_accuracy_schedule(context)
        assert request.partition_key == "900123456" and request.run_key == "accuracy:900123456:2026-12"


def test_the_chain_after_the_models_follows_its_parents():
    from cartera_pipelines.defs.forecasting import assets

    assert forecasting_automation_sensor.name == "forecasting_automation_sensor"
    for asset in (assets.demand_backtest, assets.demand_forecasts, assets.purchase_recommendations):
        assert asset.automation_conditions_by_key[asset.key] is not None
    assert assets.demand_models.automation_conditions_by_key.get(assets.demand_models.key) is None
