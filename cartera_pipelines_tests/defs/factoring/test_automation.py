"""The 00:30 Santiago schedule and the outbox sensor, evaluated as Dagster would."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.definitions import defs
from cartera_pipelines.defs.factoring import automation, tables
from cartera_pipelines.defs.factoring.assets import (
    clientes_source,
    factoring_exposure,
    facturas_source,
    facturas_vencidas,
    operaciones_source,
)
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import WebhookSender
from cartera_pipelines.sandbox.db import recreate_tables
from cartera_pipelines.sandbox.factoring import outbox_rows

UTC = dt.UTC


def test_schedule_runs_for_the_chile_date_of_its_tick() -> None:
    schedule = automation.factoring_overdue_schedule
    assert schedule.cron_schedule == "30 0 * * *" and schedule.execution_timezone == "America/Santiago"
    # 00:30 in Santiago on 2026-03-10 is 03:30 UTC (summer time).
    tick = dt.datetime(2026, 3, 10, 3, 30, tzinfo=UTC)
    request = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests[0]
    ops = request.run_config["ops"]
    assert ops == {facturas_vencidas.op.name: {"config": {"as_of": "2026-03-10"}}}
    assert request.run_key == "facturas_vencidas:2026-03-10"
    job = defs().resolve_job_def("factoring_overdue_job")
    assert dg.validate_run_config(job, request.run_config)


def test_exposure_follows_the_batch_for_the_latest_chile_day(dagster_instance: dg.DagsterInstance) -> None:
    """Calm on the first tick; after the batch, today's Chile partition once; nothing at midnight alone."""
    stores = {"operations_db": SqlDatabase(url="sqlite://"), "warehouse_db": SqlDatabase(url="sqlite://")}
    graph = dg.Definitions(
        assets=[facturas_source, clientes_source, operaciones_source, facturas_vencidas, factoring_exposure],
        resources=stores,
    )
    instance = dagster_instance
    # 00:35 in Santiago on 2026-03-10 is 03:35 UTC: the latest partition is Chile's date, not UTC's.
    tick = dt.datetime(2026, 3, 10, 3, 35, tzinfo=UTC)
    first = dg.evaluate_automation_conditions(defs=graph, instance=instance, evaluation_time=tick)
    assert first.total_requested == 0
    instance.report_runless_asset_event(dg.AssetMaterialization(facturas_vencidas.key))
    after_batch = dg.evaluate_automation_conditions(
        defs=graph, instance=instance, cursor=first.cursor, evaluation_time=tick + dt.timedelta(minutes=1)
    )
    assert after_batch.get_requested_partitions(factoring_exposure.key) == {"2026-03-10"}
    again = dg.evaluate_automation_conditions(
        defs=graph,
        instance=instance,
        cursor=after_batch.cursor,
        evaluation_time=tick + dt.timedelta(minutes=2),
    )
    assert again.total_requested == 0
    # The next Chile day begins (midnight in Santiago): no snapshot before that day's batch.
    midnight = dt.datetime(2026, 3, 11, 3, 1, tzinfo=UTC)
    new_day = dg.evaluate_automation_conditions(
        defs=graph, instance=instance, cursor=again.cursor, evaluation_time=midnight
    )
    assert new_day.total_requested == 0


def _store(url: str, n: int) -> SqlDatabase:
    recreate_tables(url, tables.OPERATIONS_TABLES).dispose()
    db = SqlDatabase(url=url, store="operations")
    if n:
        with db.begin() as conn:
            conn.execute(tables.outbox_events.insert(), list(outbox_rows(n, seed=1)))
    return db


def _evaluate(db: SqlDatabase, webhooks: WebhookSender, cursor: str | None = None):
    with dg.build_sensor_context(
        cursor=cursor, resources={"operations_db": db, "webhooks": webhooks}
    ) as context:
        return automation.outbox_sensor(context)


def test_outbox_sensor_requests_one_run_per_pending_state(sqlite_url: str) -> None:
    db = _store(sqlite_url, 4)
    hooks = WebhookSender(urls=["http://127.0.0.1:9/hook"], secret="s")
    first = _evaluate(db, hooks)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    key = first.run_requests[0].run_key
    assert key.startswith("outbox:4:4:0:")
    # Same state: the same run key, so Dagster will not start a second run for it.
    second = _evaluate(db, hooks, first.cursor)
    assert second.run_requests[0].run_key == key
    # A new event changes the key and moves the cursor.
    with db.begin() as conn:
        conn.execute(tables.outbox_events.insert(), list(outbox_rows(1, seed=9, start_id=5)))
    third = _evaluate(db, hooks, second.cursor)
    assert third.run_requests[0].run_key.startswith("outbox:5:5:0:")
    assert '"max_id": 5' in third.cursor
    # Everything delivered or parked, or backed off into the future: nothing to do.
    now = dt.datetime.now(UTC)
    with db.begin() as conn:
        conn.execute(
            sa.update(tables.outbox_events).where(tables.outbox_events.c.id <= 3).values(delivered_at=now)
        )
        conn.execute(
            sa.update(tables.outbox_events).where(tables.outbox_events.c.id == 4).values(parked_at=now)
        )
        conn.execute(
            sa.update(tables.outbox_events)
            .where(tables.outbox_events.c.id == 5)
            .values(attempts=6, next_attempt_at=now + dt.timedelta(minutes=5))
        )
    assert isinstance(_evaluate(db, hooks, third.cursor), dg.SkipReason)


def test_outbox_sensor_is_calm_when_nothing_is_pending(sqlite_url: str) -> None:
    """The demo delivered everything: the first tick (empty cursor) requests nothing."""
    db = _store(sqlite_url, 3)
    with db.begin() as conn:
        conn.execute(sa.update(tables.outbox_events).values(delivered_at=dt.datetime.now(UTC)))
    hooks = WebhookSender(urls=["http://127.0.0.1:9/hook"], secret="s")
    assert isinstance(_evaluate(db, hooks), dg.SkipReason)


def test_outbox_sensor_skips_without_an_endpoint(sqlite_url: str) -> None:
    db = _store(sqlite_url, 2)
    result = _evaluate(db, WebhookSender(urls=[], secret=""))
    assert isinstance(result, dg.SkipReason) and "no webhook endpoint" in result.skip_message


def test_definitions_wire_the_family() -> None:
    d = defs()
    keys = {k.to_user_string() for k in d.resolve_all_asset_keys()}
    assert {
        "operations/facturas_vencidas",
        "warehouse/factoring_exposure",
        "operations/outbox_deliveries",
    } <= keys
    assert d.resolve_job_def("factoring_deliver_job").tags["singleton"] == "factoring_outbox"
    assert d.resolve_sensor_def("outbox_sensor").job_name == "factoring_deliver_job"
    automation_sensor = d.resolve_sensor_def("factoring_automation_sensor")
    assert automation_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert factoring_exposure.key in automation_sensor.asset_selection.resolve(d.resolve_asset_graph())
    exposure_checks = {
        c.name
        for c in d.resolve_asset_graph().asset_check_keys
        if c.asset_key.to_user_string() == "warehouse/factoring_exposure"
    }
    assert exposure_checks == {
        "one_row_per_client",
        "linea_disponible_matches_open_operations",
        "ruts_are_valid",
        "operation_pricing_reconciles",
    }
