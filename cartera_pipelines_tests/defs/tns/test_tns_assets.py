"""Discovery and extraction through dg.materialize: SQLite sandbox and the real Firebird 3 server,
into a SQLite and a real PostgreSQL warehouse."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import dagster as dg
import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.tns import assets as tns_assets
from cartera_pipelines.defs.tns import checks as tns_checks
from cartera_pipelines.defs.tns.concurrency import SlotTimeout
from cartera_pipelines.defs.tns.config import ExtractConfig
from cartera_pipelines.defs.tns.nit import parse_nit
from cartera_pipelines.defs.tns.tables import tns_companies, tns_company_duplicates, tns_inventory_movements
from cartera_pipelines.resources.database import SqlDatabase

from .conftest import TnsSandbox, ephemeral_instance

DUPLICATE_KEY = "900123456_2025"
SMALL = "800197268_2024"  # Ferretería El Álamo on the second server (invalid check digit in EMPRESAS)
T = tns_inventory_movements


def _discover(
    sandbox: TnsSandbox, warehouse: SqlDatabase, instance: dg.DagsterInstance
) -> dg.ExecuteInJobResult:
    result = dg.materialize(
        [
            tns_assets.tns_companies,
            tns_checks.has_companies,
            tns_checks.company_years_unique_across_servers,
            tns_checks.nit_check_digits_valid,
        ],
        instance=instance,
        resources={"tns": sandbox.source(), "warehouse_db": warehouse},
    )
    assert result.success
    return result


def _extract(
    sandbox: TnsSandbox,
    warehouse: SqlDatabase,
    instance: dg.DagsterInstance,
    key: str,
    raise_on_error: bool = True,
    **config: object,
) -> dg.ExecuteInJobResult:
    return dg.materialize(
        [tns_assets.tns_inventory_movements],
        instance=instance,
        partition_key=key,
        resources={"tns": sandbox.source(), "warehouse_db": warehouse},
        run_config=dg.RunConfig(ops={tns_assets.tns_inventory_movements.op.name: ExtractConfig(**config)}),
        raise_on_error=raise_on_error,
    )


def _slice(warehouse: SqlDatabase, key: str) -> list[tuple]:
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(T).where(T.c.company_year == key).order_by(T.c.dekardex_id)).all()
    return [tuple(v for c, v in zip(T.columns, r) if c.name != "extracted_at") for r in rows]


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_discovery_across_two_servers_with_duplicate(tns_sandbox: TnsSandbox, warehouse: SqlDatabase) -> None:
    servers = [s.name for s in tns_sandbox.source().servers()]
    with ephemeral_instance() as instance:
        result = _discover(tns_sandbox, warehouse, instance)
        meta = result.get_asset_materialization_events()[0].materialization.metadata
        assert meta["duplicates"].value == 1
        assert meta["dagster/row_count"].value == 11
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert checks["has_companies"].passed
        assert not checks["company_years_unique_across_servers"].passed
        assert checks["company_years_unique_across_servers"].severity == dg.AssetCheckSeverity.WARN
        assert not checks["nit_check_digits_valid"].passed
        keys = instance.get_dynamic_partitions("tns_company_years")
        assert len(keys) == 11 and DUPLICATE_KEY in keys
        assert sorted(instance.get_dynamic_partitions("tns_nits")) == [
            "800197268",
            "860512330",
            "900123456",
            "901455782",
        ]
    with warehouse.connect() as conn:
        companies = {r.company_year: r for r in conn.execute(sa.select(tns_companies))}
        [dup] = conn.execute(sa.select(tns_company_duplicates)).all()
    assert companies[DUPLICATE_KEY].server == servers[0] and dup.server == servers[1]
    assert dup.company_year == DUPLICATE_KEY and dup.kept_server == servers[0]
    statuses = Counter((r.nit, r.nit_status) for r in companies.values())
    assert statuses == Counter(
        {
            ("900123456", "valid"): 3,
            ("860512330", "valid"): 3,
            ("800197268", "invalid_check_digit"): 2,
            ("901455782", "no_check_digit"): 3,
        }
    )
    assert companies["860512330_2024"].company_name == "Comercializadora Ñandú Ltda."
    assert companies["800197268_2024"].company_name == "Ferretería El Álamo"
    assert companies["800197268_2024"].check_digit == "4"


def _company(sandbox: TnsSandbox, key: str) -> tuple[str, str]:
    """(server, ARCHIVO) of a company-year, read from the sandbox's EMPRESAS."""
    source = sandbox.source()
    for server in source.servers():
        for _codigo, _name, nit, year, archivo in source.empresas(server):
            if f"{parse_nit(nit).number}_{year}" == key:
                return server.name, archivo
    raise AssertionError(key)


def test_extraction_equals_source_sums_rerun_identical_failure_keeps_slice(
    tns_sandbox: TnsSandbox, warehouse: SqlDatabase
) -> None:
    server, archivo = _company(tns_sandbox, SMALL)
    with ephemeral_instance() as instance:
        # No discovery run: the partition is located by discovering on the fly (as after the sensor).
        instance.add_dynamic_partitions("tns_company_years", [SMALL])
        result = _extract(tns_sandbox, warehouse, instance, SMALL, fetch_size=97)  # many chunks
        first = _slice(warehouse, SMALL)
        meta = result.get_asset_materialization_events()[0].materialization.metadata
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        _extract(tns_sandbox, warehouse, instance, SMALL)
        second = _slice(warehouse, SMALL)

        lines = tns_sandbox.source_lines(server, archivo)
        n, qty, total = tns_sandbox.source_sums(server, archivo)
        assert len(first) == n == len(lines) > 500
        assert sum(r[17] for r in first) == qty == sum(line[3] for line in lines)
        assert sum(r[22] for r in first) == total == sum(line[4] for line in lines)
        assert [r[5] for r in first] == [
            line[0] for line in lines
        ]  # the very lines, in order: voided excluded
        assert all(isinstance(r[17], Decimal) and isinstance(r[22], Decimal) for r in first)
        assert first == second
        assert meta["lines_skipped_unknown_type"].value == 3
        assert meta["unknown_document_codes"].value == {"NC": 2, "XX": 1}
        assert checks == {"loaded_lines_match_read": True, "no_unknown_document_types": False}
        names = {r[12] for r in first} | {r[16] for r in first}
        assert any("ñ" in (x or "") or "Ñ" in (x or "") for x in names)
        with warehouse.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).where(T.c.company_year != SMALL)).scalar_one() == 0

        # A line late in the stream pointing at an article that does not exist: the load fails after
        # most rows were already written inside the transaction; the previous slice must survive.
        conn = tns_sandbox.raw_connect(server, archivo)
        cursor = conn.cursor()
        cursor.execute("SELECT MAX(DEKARDEXID) FROM DEKARDEX")
        bad_line = cursor.fetchone()[0] + 1
        cursor.execute(
            "INSERT INTO DEKARDEX (DEKARDEXID, KARDEXID, MATID, BODID, CANMAT, PRECIOBASE, PRECIOIVA, "
            "PRECIONETO, PARCVTA, DESCUENTO) VALUES (?, ?, 99999, 1, 1, 1, 0, 1, 1, 0)",
            (bad_line, lines[-1][1]),
        )
        conn.commit()
        try:
            failed = _extract(tns_sandbox, warehouse, instance, SMALL, raise_on_error=False, fetch_size=100)
        finally:
            cursor.execute("DELETE FROM DEKARDEX WHERE DEKARDEXID = ?", (bad_line,))
            conn.commit()
            conn.close()
        assert not failed.success
        error = str(failed.get_step_failure_events()[0].event_specific_data.error)
        assert f"DEKARDEX line {bad_line}" in error and "MATID 99999" in error
        assert _slice(warehouse, SMALL) == first


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_server_pool_limits_extractions(sqlite_tns: TnsSandbox, warehouse: SqlDatabase) -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tns_company_years", [SMALL])
        server = sqlite_tns.source().server("sucursal")
        storage = instance.event_log_storage
        _extract(sqlite_tns, warehouse, instance, SMALL)
        info = storage.get_concurrency_info(server.pool)
        assert info.slot_count == server.max_concurrent and info.active_slot_count == 0  # created, then freed
        # Another run holds the only slot: this extraction must wait, then give up.
        storage.set_concurrency_slots(server.pool, 1)
        assert storage.claim_concurrency_slot(server.pool, "other-run", "other-step").is_claimed
        result = _extract(
            sqlite_tns, warehouse, instance, SMALL, raise_on_error=False, slot_timeout_seconds=1
        )
        assert not result.success
        assert SlotTimeout.__name__ in str(result.get_step_failure_events()[0].event_specific_data.error)
        storage.free_concurrency_slot_for_step("other-run", "other-step")
        assert _extract(sqlite_tns, warehouse, instance, SMALL).success
