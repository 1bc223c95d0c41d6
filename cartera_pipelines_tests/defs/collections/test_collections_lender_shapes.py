"""The assignment on the lender's real table shapes (issue #17): TIMESTAMP/TIMESTAMPTZ dates holding a time
of day, DOUBLE PRECISION amounts, TEXT, on SQLite, PostgreSQL and MariaDB.

The oracle is the same sandbox data in the sandbox's own shapes (DATE, NUMERIC, VARCHAR): the plan, the
store after the run and the reports must be the same, whatever the column types.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from cartera_pipelines.defs.collections.assets import CONTRACT_ADVISORS
from cartera_pipelines.lib.dates import BOGOTA
from cartera_pipelines_tests import engines
from cartera_pipelines_tests.defs.collections.conftest import AS_OF, build_stores, run_assignment
from cartera_pipelines_tests.defs.collections.lender_shapes import copy_sandbox, lender_tables

TIMESTAMP = sa.TIMESTAMP()
TIMESTAMPTZ = sa.TIMESTAMP(timezone=True)
SHAPES: dict[str, tuple[sa.types.TypeEngine[Any], sa.types.TypeEngine[Any] | None]] = {
    "timestamp": (TIMESTAMP, None),
    "timestamptz": (TIMESTAMPTZ, None),
    # the assignments a TIMESTAMP, their history a DATE: rows copied between the two must stay on the day
    "timestamp+date history": (TIMESTAMP, sa.Date()),
    "timestamptz+date history": (TIMESTAMPTZ, sa.Date()),
}


@contextmanager
def store(engine: str, tmp_path: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'lender.db'}"
        return
    with engines.postgres_database() if engine == "postgresql" else engines.mysql_database() as url:
        yield url


def _metadata(result: Any, key: Any) -> dict[str, Any]:
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key == key)
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def _holders(url: str) -> dict[int, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT contract_id, user_id FROM contract_advisors")).all()
    engine.dispose()
    return {int(c): int(u) for c, u in rows}


def _reports(home: Path) -> dict[str, Any]:
    directory = home / "reports" / "collections" / AS_OF.isoformat()
    book = load_workbook(directory / "reporte_fijos_efect.xlsx", read_only=True)
    return {
        "txt": {p.name: p.read_text() for p in sorted(directory.glob("*.txt"))},
        "fixed": list(book["Contratos Fijos"].iter_rows(values_only=True)),
        "summary": list(book["Resumen"].iter_rows(values_only=True)),
    }


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The run on the sandbox's own shapes: what every shape must give."""
    tmp = tmp_path_factory.mktemp("oracle")
    pristine, url = f"sqlite:///{tmp / 'pristine.db'}", f"sqlite:///{tmp / 'sandbox.db'}"
    build_stores(tmp / "build", pristine, pristine)
    shutil.copyfile(tmp / "pristine.db", tmp / "sandbox.db")
    result = run_assignment(url, url, tmp / "home")
    return {
        "source": pristine,
        "holders": _holders(url),
        "metadata": _metadata(result, CONTRACT_ADVISORS),
        "reports": _reports(tmp / "home"),
    }


@pytest.mark.parametrize(
    "engine, shape",
    [
        ("sqlite", "timestamp"),
        ("postgresql", "timestamp"),
        ("postgresql", "timestamptz"),
        ("postgresql", "timestamptz+date history"),
        ("mysql", "timestamp"),
        ("mysql", "timestamp+date history"),
    ],
)
def test_the_assignment_reads_and_writes_the_lenders_shapes(
    engine: str, shape: str, oracle: dict[str, Any], tmp_path: Path
) -> None:
    moment, history = SHAPES[shape]
    with store(engine, tmp_path) as url:
        copy_sandbox(oracle["source"], url, lender_tables(moment, history))
        home = tmp_path / "home"
        result = run_assignment(url, url, home)
        assert result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert all(checks.values()), checks
        meta = _metadata(result, CONTRACT_ADVISORS)
        for key in ("removed", "added", "fixed_contracts", "contracts_in_arrears", "eligible_contracts"):
            assert meta[key] == oracle["metadata"][key], key
        assert _holders(url) == oracle["holders"]
        # the reports hold the same rows, management dates as local Bogotá time (never shifted to UTC)
        assert _reports(home) == oracle["reports"]
        _assert_written_on_the_day(url, moment, meta["added"])
        # a re-run of the same day reads back what it wrote and changes nothing
        again = _metadata(run_assignment(url, url, home), CONTRACT_ADVISORS)
        assert again["removed"] == 0 and again["added"] == 0
        nxt = run_assignment(url, url, home, as_of=AS_OF + dt.timedelta(days=1))
        assert all(e.passed for e in nxt.get_asset_check_evaluations())


def _day_of(value: Any) -> dt.date:
    """The Bogotá day of a value read back with the plain driver (no project code)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if len(value) > 10 else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return (value.astimezone(BOGOTA) if value.tzinfo else value).date()
    return value


def _assert_written_on_the_day(url: str, moment: Any, added: int) -> None:
    """What the run wrote lands on AS_OF in Bogotá, in each column's own type (read with the plain driver)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assigned = conn.execute(sa.text("SELECT assigned_date FROM contract_advisors")).scalars().all()
        history = conn.execute(
            sa.text("SELECT fecha_inicial, fecha_terminal FROM contract_advisors_history")
        ).all()
    engine.dispose()
    today = [v for v in assigned if _day_of(v) == AS_OF]
    assert len(today) == added and all(_day_of(v) <= AS_OF for v in assigned)
    assert sum(1 for start, end in history if _day_of(start) == AS_OF and end is None) == added
    assert any(end is not None and _day_of(end) == AS_OF for _, end in history)
    if engine.dialect.name == "postgresql" and getattr(moment, "timezone", False):
        # midnight in Bogotá, not midnight in the session's zone (UTC here)
        assert {v.astimezone(dt.UTC).time() for v in today} == {dt.time(5, 0)}


# --- a column that is not there, or not of a usable type ------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mysql"])
def test_a_missing_column_fails_with_one_line_naming_table_column_and_expectation(
    engine: str, oracle: dict[str, Any], tmp_path: Path
) -> None:
    with store(engine, tmp_path) as url:
        copy_sandbox(oracle["source"], url, lender_tables(TIMESTAMP))
        db = sa.create_engine(url)
        with db.begin() as conn:
            conn.execute(sa.text("ALTER TABLE contract_advisors DROP COLUMN assigned_date"))
        db.dispose()
        message = _failure(url, tmp_path)
    assert message == (
        "operations table contract_advisors, column assigned_date: expected a DATE, TIMESTAMP or "
        "TIMESTAMPTZ column, found none"
    )


@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mysql"])
def test_a_column_of_an_unusable_type_fails_with_one_line(
    engine: str, oracle: dict[str, Any], tmp_path: Path
) -> None:
    with store(engine, tmp_path) as url:
        copy_sandbox(oracle["source"], url, lender_tables(TIMESTAMP))
        db = sa.create_engine(url)
        with db.begin() as conn:
            conn.execute(sa.text("ALTER TABLE contract_amortization DROP COLUMN payment_date"))
            conn.execute(sa.text("ALTER TABLE contract_amortization ADD COLUMN payment_date INTEGER"))
        db.dispose()
        message = _failure(url, tmp_path)
    assert message.startswith(
        "lending table contract_amortization, column payment_date: expected a DATE, TIMESTAMP or "
        "TIMESTAMPTZ column, found INTEGER"
    ), message


def _failure(url: str, tmp_path: Path, error: str = "SourceSchemaError") -> str:
    """The one-line error of a run that must fail, having changed nothing and written no report."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT COUNT(*) FROM contract_advisors")).scalar_one()
    result = run_assignment(url, url, tmp_path / "home", checks=False, raise_on_error=False)
    assert not result.success
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM contract_advisors")).scalar_one() == before
    engine.dispose()
    assert not (tmp_path / "home" / "reports" / "collections" / AS_OF.isoformat()).exists()
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    while failure is not None and failure.cls_name != error:
        failure = failure.cause
    assert failure is not None, f"the run did not fail with {error}"
    message = failure.message.split(": ", 1)[1].strip()  # "…SourceSchemaError: <the line>"
    assert "\n" not in message
    return message


# --- one bad record -----------------------------------------------------------------------------------------


def test_an_unreadable_date_of_an_assignment_or_management_is_one_line_and_the_run_goes_on(
    oracle: dict[str, Any], tmp_path: Path
) -> None:
    import dagster as dg

    url = f"sqlite:///{tmp_path / 'lender.db'}"
    copy_sandbox(oracle["source"], url, lender_tables(TIMESTAMP))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        held = conn.execute(
            sa.text("SELECT contract_id FROM contract_advisors ORDER BY contract_id LIMIT 1")
        ).scalar()
        conn.execute(
            sa.text("UPDATE contract_advisors SET assigned_date = 'n/a' WHERE contract_id = :c"), {"c": held}
        )
        managed = conn.execute(
            sa.text(
                "SELECT contract_id FROM managements WHERE effect = 'pago_total' AND user_id = 45 LIMIT 1"
            )
        ).scalar()
        conn.execute(
            sa.text(
                "UPDATE managements SET management_date = 'ayer' WHERE contract_id = :c AND effect = 'pago_total'"
            ),
            {"c": managed},
        )
    engine.dispose()
    with dg.instance_for_test() as instance:
        result = run_assignment(url, url, tmp_path / "home", instance=instance)
        assert result.success
        lines = [e.user_message for e in instance.all_logs(result.run_id) if e.level == 30]  # WARNING
    assert (
        f"operations table contract_advisors, column assigned_date: unreadable 'n/a' (contract {held})"
        in lines
    )
    assert (
        f"operations table managements, column management_date: unreadable 'ayer' (contract {managed})"
        in lines
    )


def test_an_unreadable_due_date_stops_the_run_before_anything_is_written(
    oracle: dict[str, Any], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'lender.db'}"
    copy_sandbox(oracle["source"], url, lender_tables(TIMESTAMP))
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a dd/mm/yyyy text, which sorts before the run date
        conn.execute(
            sa.text("UPDATE contract_amortization SET payment_date = '1/11/2026' WHERE contract_id = 7")
        )
        conn.execute(sa.text("UPDATE contract_status SET status = 'ACTIVO' WHERE contract_id = 7"))
        conn.execute(sa.text("UPDATE contract_amortization SET pending_balance = 10 WHERE contract_id = 7"))
    engine.dispose()
    message = _failure(url, tmp_path, error="SourceValueError")
    assert message == (
        "lending table contract_amortization, column payment_date: expected a date, found '1/11/2026' (contract 7)"
    )


def test_a_zero_date_in_a_mariadb_date_column_stops_the_run_before_anything_is_written(
    oracle: dict[str, Any], tmp_path: Path
) -> None:
    """A legacy MariaDB lender (no strict mode) holds ``0000-00-00`` in a DATE due date. With DATE and
    integer columns the server counts the days (``DATEDIFF``, NULL for such a day): one line, as for any
    unreadable due date."""
    with engines.mysql_database() as url:
        copy_sandbox(oracle["source"], url, lender_tables(sa.Date()))
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("SET SESSION sql_mode = ''"))
            conn.execute(
                sa.text("UPDATE contract_amortization SET payment_date = '0000-00-00' WHERE contract_id = 7")
            )
            conn.execute(sa.text("UPDATE contract_status SET status = 'ACTIVO' WHERE contract_id = 7"))
            conn.execute(
                sa.text("UPDATE contract_amortization SET pending_balance = 10 WHERE contract_id = 7")
            )
        engine.dispose()
        message = _failure(url, tmp_path, error="SourceValueError")
    assert message == (
        "lending table contract_amortization, column payment_date: expected a date, found an invalid DATE "
        "(contract 7)"
    )
