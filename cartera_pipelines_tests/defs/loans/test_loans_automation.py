"""The approved-loans sensor, the daily sweep schedule and the simulation job."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from cartera_pipelines.defs.loans import assets, automation, checks, simulation
from cartera_pipelines.defs.loans.tables import prestamos
from cartera_pipelines.resources import SqlDatabase
from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines.sandbox import loans as loans_sandbox
from cartera_pipelines_tests.defs.loans.conftest import build_loans_sandbox

NEW_LOAN = {
    "total_financiamiento": Decimal("5000000.00"),
    "numero_cuotas": 12,
    "tasa_interes": Decimal("20.00"),
    "modalidad_pago": "MENSUAL",
    "metodo_amortizacion": "FRANCESA",
    "fecha_base_calculo": dt.date(2026, 11, 20),
}


def _tick(db: SqlDatabase, cursor: str | None, instance: dg.DagsterInstance | None = None) -> dg.SensorResult:
    if instance is None:
        with dg.DagsterInstance.ephemeral() as ephemeral:
            return _tick(db, cursor, ephemeral)
    with dg.build_sensor_context(
        cursor=cursor, resources={"operations_db": db}, instance=instance
    ) as context:
        return automation.approved_loans_sensor(context)


def _insert(url: str, estado: str) -> int:
    engine = create_store_engine(url)
    with engine.begin() as conn:
        new_id = conn.execute(
            prestamos.insert().values(estado=estado, **NEW_LOAN).returning(prestamos.c.id)
        ).scalar_one()
    engine.dispose()
    return int(new_id)


def _check_sensor(url: str) -> None:
    loans, _ = loans_sandbox.generate()
    approved = sorted(loan["id"] for loan in loans if loan["estado"] == "APROBADO")
    db = SqlDatabase(url=url)
    first = _tick(db, None)
    [request] = first.run_requests
    assert request.run_key == f"approved-loans-{approved[0]}-{approved[-1]}"
    assert request.tags["loans/count"] == str(len(approved))
    assert json.loads(first.cursor) == {"max_id": approved[-1]}
    # the same tick evaluated again (e.g. after a daemon restart) asks for the same run key: no duplicate
    assert _tick(db, None).run_requests[0].run_key == request.run_key
    quiet = _tick(db, first.cursor)
    assert not quiet.run_requests and quiet.skip_reason is not None
    # a new SOLICITADO loan is ignored; a new APROBADO one is requested alone, and the cursor moves past it
    _insert(url, "SOLICITADO")
    assert not _tick(db, first.cursor).run_requests
    new_id = _insert(url, "APROBADO")
    second = _tick(db, first.cursor)
    [only] = second.run_requests
    assert only.run_key == f"approved-loans-{new_id}-{new_id}"
    assert json.loads(second.cursor) == {"max_id": new_id}
    assert not _tick(db, second.cursor).run_requests
    db.dispose()


def test_sensor_cursor_on_sqlite(tmp_path: Path) -> None:
    _check_sensor(build_loans_sandbox(f"sqlite:///{tmp_path / 'operations.db'}", tmp_path))


def test_sensor_cursor_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    _check_sensor(build_loans_sandbox(postgres_url, tmp_path))


def _defs(url: str) -> dg.Definitions:
    return dg.Definitions(
        assets=[assets.prestamos_source, assets.operations_cuotas],
        asset_checks=[v for v in vars(checks).values() if isinstance(v, dg.AssetChecksDefinition)],
        jobs=[automation.loans_amortization_job, simulation.loans_simulate_job],
        sensors=[automation.approved_loans_sensor],
        schedules=[automation.loans_daily_sweep_schedule],
        resources={"operations_db": SqlDatabase(url=url)},
    )


def test_daily_sweep_runs_the_amortization_job_as_of_the_bogota_day(
    tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    url = build_loans_sandbox(f"sqlite:///{tmp_path / 'operations.db'}", tmp_path)
    defs = _defs(url)
    schedule_def = automation.loans_daily_sweep_schedule
    assert schedule_def.execution_timezone == "America/Bogota"
    assert schedule_def.cron_schedule == "0 5 * * *"
    when = dt.datetime(2026, 3, 1, 5, 0, tzinfo=ZoneInfo("America/Bogota"))
    request = automation.loans_daily_sweep_schedule(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.run_key == "loans-sweep-2026-03-01"
    job = defs.resolve_job_def("loans_amortization_job")
    assert job.tags["singleton"] == "loans_amortization"
    result = job.execute_in_process(run_config=request.run_config, instance=dagster_instance)
    assert result.success
    [materialization] = result.get_asset_materialization_events()
    assert materialization.materialization.metadata["as_of"].value == "2026-03-01"
    # the job carries the checks of operations/cuotas
    assert {e.check_name for e in result.get_asset_check_evaluations()} >= {
        "capital_sums_to_principal",
        "final_balance_zero",
    }


def test_simulation_with_defaults_shows_the_schedule_and_writes_nothing() -> None:
    result = simulation.loans_simulate_job.execute_in_process()
    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    table = metadata["schedule"].value
    assert table.count("\n") == 12 + 1  # header, separator, 12 installments
    assert "945,595.97" in table
    assert metadata["installments"].value == 12
    records = metadata["schedule_table"].value.records
    assert len(records) == 12 and records[0].data["monto_cuota"] == "945595.97"
    assert metadata["total_capital"].value == "10,000,000.00"
    assert not result.get_asset_materialization_events()


def test_simulation_with_terms_from_run_config() -> None:
    config = {
        "principal": "1000.00",
        "annual_rate": "12",
        "installments": 2,
        "modality": "quincenal",
        "method": "ALEMANA",
        "base_date": "2024-01-31",
    }
    result = simulation.loans_simulate_job.execute_in_process(
        run_config={"ops": {"simulate_schedule": {"config": config}}}
    )
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    assert metadata["first_due"].value == "2024-02-15"
    assert metadata["last_due"].value == "2024-03-01"
    assert metadata["total_interest"].value == "7.50"  # 1000 × 12/2400 + 500 × 12/2400


def test_simulation_rejects_invalid_terms_with_every_problem() -> None:
    config = {
        "principal": "0",
        "annual_rate": "-2",
        "installments": 0,
        "method": "ALEMAN",
        "base_date": "31/01/2024",
    }
    result = simulation.loans_simulate_job.execute_in_process(
        run_config={"ops": {"simulate_schedule": {"config": config}}}, raise_on_error=False
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.user_failure_data.description)
    for fragment in (
        "principal must be > 0",
        "interest rate must be >= 0",
        "installments must be > 0",
        "unknown amortization method 'ALEMAN'",
        "is not a date",
    ):
        assert fragment in message


def test_definitions_load_without_touching_the_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "operations.db"
    defs = _defs(f"sqlite:///{missing}")
    defs.get_repository_def().load_all_definitions()
    assert not missing.exists()


def test_sensor_with_an_empty_cursor_starts_after_the_latest_materialization(tmp_path: Path) -> None:
    """A calm demo: after ``make demo`` materialized operations/cuotas, the daemon's first tick requests
    nothing for the loans already covered, and only new approvals afterwards."""
    url = build_loans_sandbox(f"sqlite:///{tmp_path / 'operations.db'}", tmp_path)
    db = SqlDatabase(url=url)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [assets.prestamos_source, assets.operations_cuotas],
            resources={"operations_db": db},
            instance=instance,
        )
        assert result.success
        loans, _ = loans_sandbox.generate()
        last = max(loan["id"] for loan in loans if loan["estado"] == "APROBADO")
        first_tick = _tick(db, None, instance)
        assert not first_tick.run_requests and first_tick.skip_reason is not None
        assert json.loads(first_tick.cursor) == {"max_id": last}
        new_id = _insert(url, "APROBADO")
        [request] = _tick(db, None, instance).run_requests
        assert request.run_key == f"approved-loans-{new_id}-{new_id}"
    db.dispose()
