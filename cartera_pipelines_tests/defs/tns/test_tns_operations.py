"""Real ERP operations around an extraction (#16), on SQLite TNS files: a company-year that moves while
it is read, a source that suddenly answers nothing, extraction by date range, API keys that expire while
the servers are down, failed extractions retried and reported by the sensor."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.tns import assets as tns_assets
from cartera_pipelines.defs.tns.automation import (
    tns_api_keys_schedule,
    tns_companies_sensor,
    tns_extract_job,
)
from cartera_pipelines.defs.tns.config import ExtractConfig
from cartera_pipelines.defs.tns.tables import api_keys, tns_inventory_movements
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.tns import TnsServer, TnsSource

from .conftest import ephemeral_instance, step_error
from .erp import Erp, Line

KEY = "900123456_2025"
MOVEMENTS = tns_inventory_movements


def _slice(warehouse: SqlDatabase, key: str = KEY) -> dict[int, dict[str, Any]]:
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(MOVEMENTS).where(MOVEMENTS.c.company_year == key)).mappings()
        return {r["dekardex_id"]: dict(r) for r in rows}


def _extract(
    source: TnsSource, warehouse: SqlDatabase, instance: dg.DagsterInstance, **config: Any
) -> dg.ExecuteInJobResult:
    if KEY not in instance.get_dynamic_partitions("tns_company_years"):
        instance.add_dynamic_partitions("tns_company_years", [KEY])
    return dg.materialize(
        [tns_assets.tns_inventory_movements],
        instance=instance,
        partition_key=KEY,
        resources={"tns": source, "warehouse_db": warehouse},
        run_config=dg.RunConfig(ops={tns_assets.tns_inventory_movements.op.name: ExtractConfig(**config)}),
        raise_on_error=False,
    )


_error = step_error


def _andina(erp: Erp, lines: list[Line], name: str = "ANDINA_2025") -> str:
    uno, dos = erp.servers
    archivo = erp.company_year(uno, name, lines)
    erp.empresas(uno, [("001", "Distribuidora Andina S.A.S.", "900.123.456-8", 2025, archivo)])
    erp.empresas(dos, [])
    erp.write_servers_file()
    return archivo


_move_on_open: dict[str, Any] = {}


class MovingSource(TnsSource):
    """A TNS source whose company-year moves to the second server just as its database is opened."""

    @contextmanager
    def connect(self, server: TnsServer, path: str | None = None) -> Iterator[Any]:
        if path is not None and _move_on_open:
            _move_on_open.pop("move")()
        with super().connect(server, path) as conn:
            yield conn


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_a_company_year_that_moves_while_it_is_read_fails_in_one_line(
    erp_sqlite: Erp, warehouse: SqlDatabase
) -> None:
    erp = erp_sqlite
    uno, dos = erp.servers
    archivo = _andina(erp, [Line(1, 1), Line(2, 2)])
    moved_to = erp.company_year(dos, "ANDINA_2025_B", [Line(1, 1)])
    with ephemeral_instance() as instance:
        assert _extract(erp.source(), warehouse, instance).success
        before = _slice(warehouse)

        def move() -> None:
            erp.empresas(uno, [])
            erp.empresas(dos, [("001", "Distribuidora Andina S.A.S.", "900123456-8", 2025, moved_to)])

        _move_on_open["move"] = move
        result = _extract(MovingSource(servers_file=str(erp.servers_file)), warehouse, instance)
    message = _error(result)
    assert "moved" in message and archivo in message and moved_to in message and "\n" not in message
    assert _slice(warehouse) == before  # the read of the old file was rolled back


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_an_empty_answer_for_a_non_empty_slice_is_refused_unless_allow_empty(
    erp_any: Erp, warehouse: SqlDatabase
) -> None:
    erp = erp_any
    _andina(erp, [Line(1, 1), Line(2, 2), Line(3, 3)])
    with ephemeral_instance() as instance:
        assert _extract(erp.source(), warehouse, instance).success
        _andina(erp, [])  # the same file, now answering no lines (restored from an empty backup?)
        message = _error(_extract(erp.source(), warehouse, instance))
        assert "0 lines" in message and "3" in message and "allow_empty" in message
        assert len(_slice(warehouse)) == 3
        assert _extract(erp.source(), warehouse, instance, allow_empty=True).success
        assert _slice(warehouse) == {}


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_extraction_by_date_range_replaces_only_that_range_in_one_transaction(
    erp_any: Erp, warehouse: SqlDatabase
) -> None:
    erp = erp_any
    jan, feb, mar = dt.date(2025, 1, 15), dt.date(2025, 2, 10), dt.date(2025, 3, 5)
    _andina(
        erp,
        [
            Line(1, 1, date=jan),
            Line(2, 2, date=jan),
            Line(3, 3, date=feb),
            Line(4, 4, date=feb),
            Line(5, 5, date=mar),
        ],
    )
    with ephemeral_instance() as instance:
        assert _extract(erp.source(), warehouse, instance).success
        # In the ERP: January's line 1 changes (outside the range), February's line 3 changes, line 4 is
        # voided, line 5 is re-dated into February, a new February line 6 is posted.
        _andina(
            erp,
            [
                Line(1, 1, date=jan, quantity=Decimal("9")),
                Line(2, 2, date=jan),
                Line(3, 3, date=feb, quantity=Decimal("7")),
                Line(4, 4, date=feb, voided=True),
                Line(5, 5, date=feb),
                Line(6, 6, date=feb),
            ],
        )
        result = _extract(erp.source(), warehouse, instance, date_from="2025-02-01", date_to="2025-02-28")
        assert result.success
        rows = _slice(warehouse)
        assert sorted(rows) == [1, 2, 3, 5, 6]
        assert rows[1]["quantity"] == Decimal("1") and rows[3]["quantity"] == Decimal("7")
        assert rows[5]["movement_date"] == feb
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["loaded_lines_match_read"]
        meta = result.get_asset_materialization_events()[0].materialization.metadata
        assert meta["date_range"].value == "2025-02-01 … 2025-02-28" and meta["lines_read"].value == 3

        message = _error(_extract(erp.source(), warehouse, instance, date_from="2025-02-30"))
        assert "date_from" in message and "\n" not in message
        message = _error(
            _extract(erp.source(), warehouse, instance, date_from="2025-03-01", date_to="2025-02-01")
        )
        assert "date_from" in message and "date_to" in message


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_forced_reextraction_reads_where_empresas_says_now(erp_sqlite: Erp, warehouse: SqlDatabase) -> None:
    erp = erp_sqlite
    uno, dos = erp.servers
    _andina(erp, [Line(1, 1)])
    with ephemeral_instance() as instance:
        assert dg.materialize(
            [tns_assets.tns_companies],
            instance=instance,
            resources={"tns": erp.source(), "warehouse_db": warehouse},
        ).success
        new = erp.company_year(dos, "ANDINA_2025_B", [Line(1, 1), Line(2, 2)])
        erp.empresas(uno, [])
        erp.empresas(dos, [("001", "Distribuidora Andina S.A.S.", "900123456-8", 2025, new)])
        assert "moved" in _error(_extract(erp.source(), warehouse, instance))
        result = _extract(erp.source(), warehouse, instance, force=True)
        assert result.success and sorted(_slice(warehouse)) == [1, 2]
        assert result.get_asset_materialization_events()[0].materialization.metadata["server"].value == dos


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_expired_keys_are_deactivated_on_schedule_whatever_the_servers_state(
    warehouse: SqlDatabase, tmp_path
) -> None:
    ensure_schema(warehouse)
    now = dt.datetime.now(dt.UTC)
    with warehouse.begin() as conn:
        conn.execute(
            api_keys.insert(),
            [
                {
                    "prefix": "sk_expired",
                    "key_hash": "a" * 64,
                    "nit": "900123456",
                    "client_name": "Tienda",
                    "expires_at": now - dt.timedelta(minutes=5),
                    "active": True,
                    "created_at": now - dt.timedelta(days=30),
                },
                {
                    "prefix": "sk_current",
                    "key_hash": "b" * 64,
                    "nit": "900123456",
                    "client_name": "Tienda",
                    "expires_at": now + dt.timedelta(days=5),
                    "active": True,
                    "created_at": now - dt.timedelta(days=30),
                },
            ],
        )
    assert tns_api_keys_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert tns_api_keys_schedule.job.selection.resolve(
        [tns_assets.tns_companies, tns_assets.api_key_companies]
    ) == {tns_assets.api_key_companies.key}
    # the servers are down: the schedule's run needs none of them
    with ephemeral_instance() as instance:
        assert dg.materialize(
            [tns_assets.api_key_companies], instance=instance, resources={"warehouse_db": warehouse}
        ).success
    with warehouse.connect() as conn:
        assert dict(conn.execute(sa.select(api_keys.c.prefix, api_keys.c.active)).all()) == {
            "sk_expired": False,
            "sk_current": True,
        }


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_failed_extractions_are_retried_and_reported_in_the_sensors_log(
    erp_sqlite: Erp, warehouse: SqlDatabase, capfd: pytest.CaptureFixture[str]
) -> None:
    assert tns_extract_job.tags["dagster/max_retries"] == "2"
    assert tns_extract_job.tags["dagster/retry_on_asset_or_op_failure"] == "true"
    erp = erp_sqlite
    _andina(erp, [Line(1, 1)])
    resources = {"tns": erp.source(), "warehouse_db": warehouse}
    with ephemeral_instance() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            first = tns_companies_sensor(context)
        cursor = first.cursor
        # the company-year's file disappears: the extraction fails (its retries would fail the same way)
        (erp.root / "tns" / erp.servers[0] / "ANDINA_2025.db").unlink()
        instance.add_dynamic_partitions("tns_company_years", [KEY])
        job = dg.Definitions(
            assets=[tns_assets.tns_inventory_movements], jobs=[tns_extract_job], resources=resources
        ).resolve_job_def(tns_extract_job.name)
        for retry in ("", "1"):  # the run, then its first retry as the instance's run retries launch it
            tags = {"dagster/retry_number": retry} if retry else {}
            failed = job.execute_in_process(
                instance=instance, partition_key=KEY, tags=tags, raise_on_error=False
            )
            assert not failed.success
        capfd.readouterr()
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            tns_companies_sensor(context)
    lines = [line for line in capfd.readouterr().err.splitlines() if "extraction of" in line]
    assert any("attempt 1 of 3" in line and "retried" in line for line in lines), lines
    assert any("attempt 2 of 3" in line and "does not exist" in line for line in lines), lines
    assert json.loads(cursor)["requested"][KEY].startswith(f"{erp.servers[0]}:")
