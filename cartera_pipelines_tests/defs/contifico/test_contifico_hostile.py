"""Issue #14 end to end: hostile payloads, the API's quirks and paging you can trust, against the
simulator over real HTTP with each quirk switched on, on SQLite and the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from email.utils import format_datetime

import dagster as dg
import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.contifico import assets, checks
from cartera_pipelines.defs.contifico.catalog import CATALOG, RESOURCES
from cartera_pipelines.defs.contifico.sync import SyncOptions, ensure_tables, sync_resource
from cartera_pipelines.defs.contifico.tables import (
    CHILD_TABLES,
    RESOURCE_TABLES,
    rejects,
    schema_drift,
    sync_state,
)
from cartera_pipelines.resources.contifico import ContificoApi, ContificoAuthError, ContificoPagingError
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.sandbox.contifico_simulator import FaultConfig, Quirks, SimulatorServer

from .conftest import make_api


def _rows(db: SqlDatabase, table: sa.Table, *columns: str) -> dict[str, tuple]:
    with db.connect() as conn:
        query = sa.select(table.c.id, *(table.c[c] for c in columns))
        return {row[0]: tuple(row[1:]) for row in conn.execute(query)}


def _all_rows(db: SqlDatabase) -> dict[str, set]:
    """Every typed column of every resource and child table (not the fetch stamps)."""
    found = {}
    with db.connect() as conn:
        for table in [*RESOURCE_TABLES.values(), *CHILD_TABLES.values()]:
            columns = [c for c in table.columns if c.name not in ("raw", "first_seen_at", "fetched_at")]
            found[table.name] = {tuple(r) for r in conn.execute(sa.select(*columns))}
    return found


def _edit(server: SimulatorServer, record_id: str, **changes: object) -> None:
    conn = server.sim.db()
    body = json.loads(conn.execute("SELECT body FROM records WHERE id = ?", (record_id,)).fetchone()[0])
    body.update(changes)
    conn.execute(
        "UPDATE records SET body = ?, modified = '2030-01-01' WHERE id = ?", (json.dumps(body), record_id)
    )
    conn.commit()


def test_iso_and_mixed_dates_long_texts_and_number_amounts_sync_cleanly(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    """The bug of issue #14: persons with an ISO fecha_modificacion failed the resource forever."""
    simulator.sim.quirks = Quirks(dates="mixed", long_texts=True, number_amounts=True)
    ensure_tables(warehouse)
    stats = {r.name: sync_resource(api, warehouse, r) for r in CATALOG}
    assert sum(s.rejected for s in stats.values()) == 0
    assert sum(s.without_modified for s in stats.values()) == 0
    persons = _rows(warehouse, RESOURCE_TABLES["persons"], "source_updated_at", "name")
    assert persons and all(updated is not None and len(name) == 450 for updated, name in persons.values())
    entries = _rows(
        warehouse, RESOURCE_TABLES["journal_entries"], "description", "total_debit", "document_date"
    )
    conn = simulator.sim.db()
    for body in (
        json.loads(r[0])
        for r in conn.execute("SELECT body FROM records WHERE coll = 'v2/contabilidad/asiento/'")
    ):
        description, debit, day = entries[body["id"]]
        assert len(description) == 450  # TEXT, not VARCHAR(300)
        assert debit == Decimal(body["total_debe"])  # a JSON number reads as the decimal written
        assert day == dt.datetime.strptime(body["fecha"], "%d/%m/%Y").date()


def test_a_bad_record_is_rejected_the_rest_is_written_and_it_leaves_once_it_parses(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    products = RESOURCES["products"]
    bad_id = simulator.sim.ids("v1/producto/")[5]
    _edit(simulator, bad_id, pvp1="doce dólares")
    result = dg.materialize(
        [*assets.contifico_resource_assets, *checks.contifico_resource_checks],
        selection=[dg.AssetKey(["warehouse", "contifico_products"])],
        resources={"contifico": api, "warehouse_db": warehouse},
    )
    assert result.success  # the page is written, the run goes on
    stored = _rows(warehouse, RESOURCE_TABLES["products"])
    assert bad_id not in stored and len(stored) == len(simulator.sim.ids("v1/producto/")) - 1
    with warehouse.connect() as conn:
        reject = conn.execute(sa.select(rejects)).mappings().one()
        state = conn.execute(sa.select(sync_state.c.rejected)).scalar_one()
    assert (reject["resource"], reject["id"], reject["field"]) == ("products", bad_id, "pvp1")
    assert json.loads(reject["value"]) == "doce dólares" and reject["raw"]["id"] == bad_id and state == 1
    (metadata,) = [e.materialization.metadata for e in result.get_asset_materialization_events()]
    assert metadata["rejected"].value == 1
    warned = {c.check_name: c for c in result.get_asset_check_evaluations()}["no_open_rejects"]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert bad_id in warned.metadata["sample"].value
    # the source fixes the record: it is stored and leaves the rejects
    _edit(simulator, bad_id, pvp1="12.00", fecha_modificacion="01/01/2030")
    again = sync_resource(api, warehouse, products)
    assert again.rejected == 0 and again.new == 1
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rejects)).scalar_one() == 0


def test_a_bad_line_rejects_its_document_and_logs_one_clear_line(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    sale_id = simulator.sim.ids("v2/registro/documento/", tipo_registro="CLI")[3]
    _edit(simulator, sale_id, detalles=[{"producto_id": "x", "cantidad": "dos", "precio": "1"}])
    ensure_tables(warehouse)
    lines: list[str] = []
    stats = sync_resource(api, warehouse, RESOURCES["sales"], log=lines.append)
    assert stats.rejected == 1
    (line,) = [m for m in lines if "rejected" in m and sale_id in m]
    assert (
        "sales: record" in line and "detalles[1].cantidad" in line and "page 1" in line and "GET http" in line
    )
    with warehouse.connect() as conn:
        parents = conn.execute(sa.select(CHILD_TABLES["sales_lines"].c.parent_id).distinct()).scalars().all()
    assert sale_id not in parents


def test_records_without_fecha_modificacion_are_counted(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    simulator.sim.quirks = Quirks(missing_modified=0.2)
    ensure_tables(warehouse)
    stats = sync_resource(api, warehouse, RESOURCES["persons"])
    assert 0 < stats.without_modified < stats.fetched and stats.rejected == 0
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sync_state.c.without_modified)).scalar_one() == stats.without_modified


def test_unknown_fields_are_recorded_as_drift(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    simulator.sim.quirks = Quirks(extra_fields={"codigo_barras": "7861234567890"})
    result = dg.materialize(
        assets.contifico_resource_assets,
        selection=[dg.AssetKey(["warehouse", "contifico_brands"])],
        resources={"contifico": api, "warehouse_db": warehouse},
    )
    with warehouse.connect() as conn:
        drift = conn.execute(sa.select(schema_drift)).mappings().one()
    assert (drift["resource"], drift["field"]) == ("brands", "codigo_barras")
    assert json.loads(drift["example"]) == "7861234567890"
    (metadata,) = [e.materialization.metadata for e in result.get_asset_materialization_events()]
    assert metadata["drift_fields"].value == 1 and "codigo_barras" in metadata["drift"].value
    # seen again: still one row, first_seen_at kept
    sync_resource(api, warehouse, RESOURCES["brands"])
    with warehouse.connect() as conn:
        again = conn.execute(sa.select(schema_drift)).mappings().one()
    assert again["first_seen_at"] == drift["first_seen_at"]


def test_an_endpoint_ignoring_the_page_parameter_ends_with_a_clear_error(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    simulator.sim.quirks = Quirks(repeat_page="producto")
    ensure_tables(warehouse)
    with pytest.raises(ContificoPagingError, match="page 2 repeats the ids of page 1"):
        sync_resource(api, warehouse, RESOURCES["products"])
    assert simulator.sim.stats["list_requests"] <= 3  # not 1,000,000


def test_deletions_are_skipped_when_the_ids_seen_differ_from_the_count(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    """Offset paging while someone deletes: a live record slips between pages and is not seen."""
    movements = RESOURCES["bank_movements"]
    ensure_tables(warehouse)
    sync_resource(api, warehouse, movements)
    simulator.sim.add_fault("concurrent_delete", path="banco/movimiento", page=2)
    stats = sync_resource(api, warehouse, movements, SyncOptions(full_refresh=True))
    # the record that slipped between pages 1 and 2 is live: marking it deleted would be the bug
    assert stats.deleted == 0 and stats.deletions_skipped == 1
    assert "count" in stats.deletions_skipped_reason
    with warehouse.connect() as conn:
        state = conn.execute(sa.select(sync_state.c.deletions_skipped_reason)).scalar_one()
    assert state == stats.deletions_skipped_reason
    # the next full scan, undisturbed, marks the one real deletion
    assert sync_resource(api, warehouse, movements, SyncOptions(full_refresh=True)).deleted == 1


def test_a_failing_page_cancels_the_prefetch_at_once(
    simulator: SimulatorServer, warehouse: SqlDatabase
) -> None:
    api = make_api(simulator, backoff_initial_seconds=5, backoff_max_seconds=5, max_retries=8)
    simulator.sim.configure(FaultConfig(retry_after="5"))
    simulator.sim.add_fault("missing_id", path="producto", page=1, times=None)
    simulator.sim.add_fault("500", path="producto", page=2, times=None)
    ensure_tables(warehouse)
    started = time.perf_counter()
    with pytest.raises(Exception, match="record without an id"):
        sync_resource(api, warehouse, RESOURCES["products"])
    assert time.perf_counter() - started < 3  # not the prefetched page's 8 retries × 5 s


def test_retry_after_as_an_http_date_is_honoured(simulator: SimulatorServer, api: ContificoApi) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    simulator.sim.configure(FaultConfig(retry_after=format_datetime(when, usegmt=True)))
    simulator.sim.add_fault("429", path="marca", page=1)
    started = time.perf_counter()
    pages = list(api.iter_pages("v1/marca/", "v1", prefetch=False))
    assert time.perf_counter() - started >= 0.9 and pages[0].retries == 1


def test_a_truncated_200_body_is_retried(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    simulator.sim.add_fault("malformed", path="producto", page=2, times=2)
    ensure_tables(warehouse)
    stats = sync_resource(api, warehouse, RESOURCES["products"])
    assert stats.retries == 2 and stats.fetched == len(simulator.sim.ids("v1/producto/"))


def test_the_catalog_pages_each_endpoint_as_it_understands(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    # documento/ ignores page/page_size (everything in one answer) and pages with result_page/result_size
    unpaged = list(api.iter_pages("v2/documento/", "v2", page_size=100, paging="page"))
    assert len(unpaged) == 1 and len(unpaged[0].records) == len(simulator.sim.ids("v2/documento/"))
    ensure_tables(warehouse)
    documents = sync_resource(api, warehouse, RESOURCES["documents"], SyncOptions(page_size=100))
    assert documents.pages > 1 and documents.fetched == len(simulator.sim.ids("v2/documento/"))
    # centro-costo answers 500 for pages over 100: the catalog caps it
    with pytest.raises(Exception, match="id_integracion"):
        make_api(simulator, max_retries=0).get("v1/contabilidad/centro-costo/", {"result_size": 1000})
    assert sync_resource(api, warehouse, RESOURCES["cost_centers"], SyncOptions(page_size=1000)).fetched > 0


def test_the_token_goes_as_x_api_token(simulator: SimulatorServer) -> None:
    simulator.sim.api_token = "token-de-prueba"
    with pytest.raises(ContificoAuthError):
        list(make_api(simulator).iter_pages("v1/marca/", "v1"))
    with_token = make_api(simulator, api_token="token-de-prueba")
    assert list(with_token.iter_pages("v1/marca/", "v1"))


def test_rows_are_identical_to_a_clean_run_under_10_percent_faults(
    simulator: SimulatorServer, warehouse: SqlDatabase, tmp_path
) -> None:
    clean = SqlDatabase(url=f"sqlite:///{tmp_path / 'clean.db'}", store="warehouse")
    ensure_tables(clean)
    ensure_tables(warehouse)
    for resource in CATALOG:
        sync_resource(make_api(simulator), clean, resource)
    simulator.sim.configure(FaultConfig(rate=0.1, kinds=("429", "500", "malformed"), seed=5, retry_after="0"))
    faulty = make_api(simulator, page_size=50)
    retries = sum(sync_resource(faulty, warehouse, resource).retries for resource in CATALOG)
    assert retries > 0 and simulator.sim.stats["fault_malformed"] > 0
    assert _all_rows(warehouse) == _all_rows(clean)
    clean.dispose()
