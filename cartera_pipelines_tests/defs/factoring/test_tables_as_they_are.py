"""The family on the API's tables as a real service leaves them (``shapes.py``): TIMESTAMP/TIMESTAMPTZ dates
on PostgreSQL, DATETIME/TIMESTAMP on MariaDB, timestamps as text on SQLite, DOUBLE amounts, TEXT everywhere,
the outbox payload as TEXT. Same rows, same answers as on the plain tables."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.factoring import checks, tables
from cartera_pipelines.defs.factoring.assets import factoring_exposure, facturas_vencidas, outbox_deliveries
from cartera_pipelines.defs.factoring.config import OverdueConfig
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import WebhookSender
from cartera_pipelines.sandbox.factoring import WebhookReceiver
from cartera_pipelines_tests import engines
from cartera_pipelines_tests.defs.factoring.conftest import SECRET, TODAY, build_sandbox
from cartera_pipelines_tests.defs.factoring.shapes import SHAPE_IDS, SHAPES, reshape

EXPOSURE_CHECKS = [
    checks.one_row_per_client,
    checks.linea_disponible_matches_open_operations,
    checks.ruts_are_valid,
    checks.operation_pricing_reconciles,
]
shapes = pytest.mark.parametrize("store, instant", SHAPES, indirect=["store"], ids=SHAPE_IDS)


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'operations.db'}"
        return
    with engines.postgres_database() if request.param == "postgresql" else engines.mysql_database() as url:
        yield url


def _invoices(db: SqlDatabase) -> dict[int, tuple[str, dt.date]]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(tables.facturas.c.id, tables.facturas.c.estado, tables.facturas.c.fecha_vencimiento)
        )
        return {r.id: (r.estado, r.fecha_vencimiento) for r in rows}


def _states(db: SqlDatabase) -> dict[int, str]:
    with db.connect() as conn:
        return dict(conn.execute(sa.select(tables.facturas.c.id, tables.facturas.c.estado)).all())


def _exposure(ops: SqlDatabase, warehouse: SqlDatabase) -> tuple[dg.ExecuteInProcessResult, list[dict]]:
    result = dg.materialize(
        [factoring_exposure, *EXPOSURE_CHECKS],
        resources={"operations_db": ops, "warehouse_db": warehouse},
        partition_key=TODAY.isoformat(),
    )
    with warehouse.connect() as conn:
        rows = [
            {k: v for k, v in r._mapping.items() if k != "computed_at"}
            for r in conn.execute(
                sa.select(tables.factoring_exposure).order_by(tables.factoring_exposure.c.cliente_id)
            )
        ]
    return result, rows


@shapes
def test_batch_exposure_and_checks_as_on_plain_tables(store: str, instant: bool, tmp_path: Path) -> None:
    plain = f"sqlite:///{tmp_path / 'plain.db'}"
    build_sandbox(plain, tmp_path)
    build_sandbox(store, tmp_path)
    plain_db = SqlDatabase(url=plain, store="operations")
    before = _invoices(plain_db)
    reshape(store, instant)
    shaped = SqlDatabase(url=store, store="operations")
    warehouse = SqlDatabase(url=f"sqlite:///{tmp_path / 'warehouse.db'}", store="warehouse")
    plain_warehouse = SqlDatabase(url=f"sqlite:///{tmp_path / 'plain_warehouse.db'}", store="warehouse")

    # The batch marks exactly the invoices due before Chile's date, whatever the column's type.
    run_config = dg.RunConfig(ops={facturas_vencidas.op.name: OverdueConfig(as_of=TODAY.isoformat())})
    batch = dg.materialize(
        [facturas_vencidas, checks.no_overdue_invoice_left],
        resources={"operations_db": shaped},
        run_config=run_config,
    )
    assert batch.success
    expected = {
        i
        for i, (estado, due) in before.items()
        if due < TODAY and estado not in ("cedida", "pagada", "anulada", "vencida")
    }
    after = _states(shaped)
    assert {i for i in before if after[i] == "vencida" and before[i][0] != "vencida"} == expected
    assert all(c.passed for c in batch.get_asset_check_evaluations())

    # The snapshot equals the one taken on the plain tables, to the cent, and every check passes.
    dg.materialize([facturas_vencidas], resources={"operations_db": plain_db}, run_config=run_config)
    result, rows = _exposure(shaped, warehouse)
    _, plain_rows = _exposure(plain_db, plain_warehouse)
    assert result.success and rows == plain_rows and len(rows) == 40
    assert sum(r["facturas_cedidas_vencidas"] for r in rows) > 0
    failed = {c.check_name: c.metadata for c in result.get_asset_check_evaluations() if not c.passed}
    assert failed == {}
    for db in (plain_db, shaped, warehouse, plain_warehouse):
        db.dispose()


@shapes
def test_outbox_with_text_payloads_and_timestamps(store: str, instant: bool, tmp_path: Path) -> None:
    build_sandbox(store, tmp_path)
    db = SqlDatabase(url=store, store="operations")
    with db.connect() as conn:
        pending = {
            r.event_id: r.payload
            for r in conn.execute(
                sa.select(tables.outbox_events).where(tables.outbox_events.c.delivered_at.is_(None))
            )
        }
    reshape(store, instant)
    with WebhookReceiver(SECRET) as receiver:
        sender = WebhookSender(urls=[receiver.url], secret=SECRET)
        result = dg.materialize([outbox_deliveries], resources={"operations_db": db, "webhooks": sender})
    assert result.success
    assert set(receiver.deliveries) == set(pending)
    for event_id, payload in pending.items():
        document = json.loads(receiver.bodies[event_id])
        assert document["payload"] == payload  # the document, not the text the column holds
        assert document["created_at"].endswith("Z")
    with db.connect() as conn:
        left = conn.execute(
            sa.select(sa.func.count())
            .select_from(tables.outbox_events)
            .where(tables.outbox_events.c.delivered_at.is_(None))
        ).scalar_one()
    assert left == 0
    db.dispose()


def test_a_missing_column_fails_the_run_in_one_line(any_store_url: str, tmp_path: Path) -> None:
    build_sandbox(any_store_url, tmp_path)
    db = SqlDatabase(url=any_store_url, store="operations")
    with db.begin() as conn:
        conn.execute(sa.text("ALTER TABLE facturas DROP COLUMN fecha_vencimiento"))
    warehouse = SqlDatabase(url=f"sqlite:///{tmp_path / 'warehouse.db'}", store="warehouse")
    line = "facturas.fecha_vencimiento is missing: expected a date (DATE, TIMESTAMP or TIMESTAMPTZ)"
    batch = dg.materialize([facturas_vencidas], resources={"operations_db": db}, raise_on_error=False)
    exposure = dg.materialize(
        [factoring_exposure],
        resources={"operations_db": db, "warehouse_db": warehouse},
        partition_key=TODAY.isoformat(),
        raise_on_error=False,
    )
    for result in (batch, exposure):
        error = result.get_step_failure_events()[0].step_failure_data.error
        cause = error.cause  # what the step raised, under Dagster's wrapper
        assert not result.success and cause.cls_name == "ForeignColumnError"
        assert cause.message.strip().endswith(": " + line) and "\n" not in cause.message.strip()
    db.dispose()


def test_one_unreadable_record_gets_one_line_and_the_snapshot_goes_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'operations.db'}"
    build_sandbox(url, tmp_path)
    db = SqlDatabase(url=url, store="operations")
    with db.begin() as conn:
        ceded = conn.execute(
            sa.select(tables.operacion_facturas.c.factura_id)
            .join(tables.operaciones_cesion)
            .where(tables.operaciones_cesion.c.estado == "desembolsada")
            .limit(1)
        ).scalar_one()
        conn.execute(sa.text("UPDATE facturas SET monto_total = 'doce mil' WHERE id = :id"), {"id": ceded})
    warehouse = SqlDatabase(url=f"sqlite:///{tmp_path / 'warehouse.db'}", store="warehouse")
    result = dg.materialize(
        [factoring_exposure],
        resources={"operations_db": db, "warehouse_db": warehouse},
        partition_key=TODAY.isoformat(),
    )
    assert result.success
    metadata = result.asset_materializations_for_node(factoring_exposure.op.name)[0].metadata
    assert metadata["dagster/row_count"].value == 40
    assert metadata["registros_ilegibles"].value == 1
    line = f"facturas.monto_total (id {ceded}) = 'doce mil' is not a number"
    assert line in metadata["ilegibles"].value
    db.dispose()
