"""The assignment asset end to end on real engines: SQLite, and MariaDB (lending) + PostgreSQL (operations)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from cartera_pipelines.defs.collections import run_history, sql
from cartera_pipelines.defs.collections.assets import ASSIGNMENT_REPORT, CONTRACT_ADVISORS
from cartera_pipelines.defs.collections.assignment import AssignmentRules
from cartera_pipelines.defs.collections.tables import (
    contract_advisors,
    contract_advisors_history,
    contract_amortization,
    contract_status,
)
from cartera_pipelines_tests.defs.collections.conftest import AS_OF, run_assignment, snapshot

HOUSES = (45, 81)


def _metadata(result, key):
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key == key)
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def _holdings(operations_url: str) -> dict[int, list[int]]:
    engine = sa.create_engine(operations_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(contract_advisors.c.user_id, contract_advisors.c.contract_id)).all()
    engine.dispose()
    out: dict[int, list[int]] = {h: [] for h in HOUSES}
    for user, contract in rows:
        out.setdefault(user, []).append(contract)
    return {u: sorted(c) for u, c in out.items()}


def _oracle_arrears(lending_url: str, as_of: dt.date) -> dict[int, int]:
    """Days overdue computed row by row in Python, independently of the asset's SQL."""
    engine = sa.create_engine(lending_url)
    with engine.connect() as conn:
        active = set(
            conn.execute(
                sa.select(contract_status.c.contract_id).where(contract_status.c.status == "ACTIVO")
            ).scalars()
        )
        oldest: dict[int, dt.date] = {}
        for c, d, pending in conn.execute(
            sa.select(
                contract_amortization.c.contract_id,
                contract_amortization.c.payment_date,
                contract_amortization.c.pending_balance,
            )
        ):
            if c in active and d < as_of and pending > 0 and (c not in oldest or d < oldest[c]):
                oldest[c] = d
    engine.dispose()
    return {c: (as_of - d).days for c, d in oldest.items()}


def assert_full_run(lending_url: str, operations_url: str, home: Path) -> None:
    oracle = _oracle_arrears(lending_url, AS_OF)
    assert any(0 < d < 61 for d in oracle.values()) and any(d >= 61 for d in oracle.values())
    before = snapshot(operations_url)

    result = run_assignment(lending_url, operations_url, home)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert len(checks) == 5 and all(checks.values()), checks
    meta = _metadata(result, CONTRACT_ADVISORS)
    assert meta["removed"] > 0 and meta["added"] > 0 and meta["balanced"] is True
    assert meta["contracts_in_arrears"] == len(oracle)

    # the store: one holder per contract, history opened/closed for every change, balanced 50/50
    after = snapshot(operations_url)
    assert after != before
    holdings = _holdings(operations_url)
    assert abs(len(holdings[45]) - len(holdings[81])) <= 1
    opened_today = [r for r in after["contract_advisors_history"] if r[3] == AS_OF and r[4] is None]
    closed_today = [r for r in after["contract_advisors_history"] if r[4] == AS_OF]
    assert len(opened_today) == meta["added"] and len(closed_today) == meta["removed"]
    for house in HOUSES:
        for contract in holdings[house]:
            if contract not in {
                r[1] for r in after["contract_advisors_history"] if r[2] == house and r[4] is None
            }:
                pytest.fail(f"contract {contract} of house {house} has no open history row")

    # every fixed contract ends the run held by its house, whatever its arrears (unless a user that is not
    # a house holds it)
    engine = sa.create_engine(operations_url)
    with engine.connect() as conn:
        fixed = sql.read_fixed(conn, AssignmentRules())
        others = set(
            conn.execute(
                sa.select(contract_advisors.c.contract_id).where(contract_advisors.c.user_id.not_in(HOUSES))
            ).scalars()
        )
    engine.dispose()
    not_overdue = [c for c in fixed if oracle.get(c, 0) == 0 and c not in others]
    assert not_overdue, "the sandbox has fixed contracts with nothing overdue"
    for contract, management in fixed.items():
        if contract not in others:
            assert contract in holdings[management.user_id], f"fixed contract {contract} not with its house"

    # the reports hold the same rows as the store
    directory = home / "reports" / "collections" / AS_OF.isoformat()
    for house in HOUSES:
        lines = (directory / f"asignacion_{house}.txt").read_text().split()
        assert [int(x) for x in lines] == holdings[house]
    book = load_workbook(directory / "reporte_fijos_efect.xlsx", read_only=True)
    assert book.sheetnames == ["Contratos Fijos", "Resumen", "Metadata"]
    fixed_rows = list(book["Contratos Fijos"].iter_rows(min_row=2, values_only=True))
    assert len(fixed_rows) == _metadata(result, ASSIGNMENT_REPORT)["dagster/row_count"] > 0
    for contract, house, _days, action, _when in fixed_rows:
        if action in ("kept", "added", "moved"):
            assert contract in holdings[house]
    summary = {row[0]: row for row in book["Resumen"].iter_rows(min_row=2, values_only=True)}
    header = [c.value for c in next(book["Resumen"].iter_rows(max_row=1))]
    for house in HOUSES:
        row = dict(zip(header, summary[house]))
        assert row["total"] == len(holdings[house])
        assert row["kept"] + row["added"] == row["total"]
    meta_sheet = dict(book["Metadata"].iter_rows(min_row=2, values_only=True))
    assert meta_sheet["as_of"] == AS_OF.isoformat() and meta_sheet["threshold_days"] == 61

    # running again for the same date changes nothing
    again = run_assignment(lending_url, operations_url, home)
    assert _metadata(again, CONTRACT_ADVISORS)["removed"] == 0
    assert _metadata(again, CONTRACT_ADVISORS)["added"] == 0
    assert snapshot(operations_url) == after

    # the next day: new 61-day contracts come in, the odd one alternates, checks still pass
    next_day = run_assignment(lending_url, operations_url, home, as_of=AS_OF + dt.timedelta(days=1))
    assert all(e.passed for e in next_day.get_asset_check_evaluations())


def test_assignment_on_sqlite(sqlite_stores) -> None:
    assert_full_run(*sqlite_stores)


@pytest.mark.mysql
@pytest.mark.postgres
def test_assignment_mariadb_lending_postgres_operations(server_stores) -> None:
    assert_full_run(*server_stores)


def test_dry_run_changes_nothing_but_reports(sqlite_stores) -> None:
    lending, operations, home = sqlite_stores
    before = snapshot(operations)
    result = run_assignment(lending, operations, home, dry_run=True, checks=False)
    assert _metadata(result, CONTRACT_ADVISORS)["added"] > 0
    assert snapshot(operations) == before
    assert (
        home / "reports" / "collections" / f"{AS_OF.isoformat()}_dry_run" / "reporte_fijos_efect.xlsx"
    ).exists()
    assert not (home / "reports" / "collections" / AS_OF.isoformat()).exists()


def _fail_after_deletes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the insert step raise once the deletes have run (inside the transaction)."""
    seen: list[int] = []

    def boom(conn, *_args):
        seen.append(conn.execute(sa.select(sa.func.count()).select_from(contract_advisors)).scalar_one())
        raise RuntimeError("injected failure between the deletes and the inserts")

    monkeypatch.setattr(sql, "_insert_assignments", boom)
    return seen


def _assert_failure_leaves_store(
    lending: str, operations: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(operations)
    seen = _fail_after_deletes(monkeypatch)
    result = run_assignment(lending, operations, home, checks=False, raise_on_error=False)
    assert not result.success
    assert seen and seen[0] < len(before["contract_advisors"]), "the deletes had run when the failure hit"
    assert snapshot(operations) == before
    assert not (home / "reports" / "collections" / AS_OF.isoformat()).exists()


def test_failure_in_the_middle_of_the_write_leaves_sqlite_as_before(sqlite_stores, monkeypatch) -> None:
    _assert_failure_leaves_store(*sqlite_stores, monkeypatch)


@pytest.mark.mysql
@pytest.mark.postgres
def test_failure_in_the_middle_of_the_write_leaves_postgres_as_before(server_stores, monkeypatch) -> None:
    _assert_failure_leaves_store(*server_stores, monkeypatch)


def test_history_close_and_open_are_set_based(sqlite_stores) -> None:
    """A legacy gap (an assignment without an open history row) is repaired, an orphan open row closed."""
    lending, operations, home = sqlite_stores
    engine = sa.create_engine(operations)
    h = contract_advisors_history
    with engine.begin() as conn:
        victim = conn.execute(
            sa.select(contract_advisors.c.contract_id, contract_advisors.c.user_id)
            .where(contract_advisors.c.user_id == 45)
            .limit(1)
        ).one()
        conn.execute(sa.delete(h).where(h.c.contract_id == victim[0], h.c.user_id == victim[1]))
        conn.execute(sa.insert(h).values(contract_id=999_999, user_id=81, fecha_inicial=dt.date(2026, 1, 1)))
    engine.dispose()
    result = run_assignment(lending, operations, home)
    assert all(e.passed for e in result.get_asset_check_evaluations())
    rows = snapshot(operations)["contract_advisors_history"]
    assert [r[4] for r in rows if r[1] == 999_999] == [AS_OF]
    assert Counter((r[1], r[2]) for r in rows if r[4] is None).most_common(1)[0][1] == 1


def test_a_third_house_at_other_weights_is_a_config_change(sqlite_stores) -> None:
    lending, operations, home = sqlite_stores
    result = run_assignment(lending, operations, home, house_user_ids=[45, 81, 99], house_weights=[2, 2, 1])
    assert all(e.passed for e in result.get_asset_check_evaluations())
    holdings = _holdings(operations)
    total = sum(len(holdings[h]) for h in (45, 81, 99))
    # 99 starts empty and gets its fifth (fixed contracts of 45/81 may push those two a little higher)
    assert abs(len(holdings[99]) - total / 5) <= 1


def test_mismatched_houses_config_fails_with_a_clear_message(sqlite_stores) -> None:
    lending, operations, home = sqlite_stores
    before = snapshot(operations)
    result = run_assignment(
        lending, operations, home, checks=False, raise_on_error=False, house_user_ids=[45, 81, 99]
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "house_user_ids (3) and house_weights (2)" in str(failure.step_failure_data.error)
    assert snapshot(operations) == before


def test_a_day_older_than_the_latest_applied_one_is_refused_but_can_be_a_dry_run(sqlite_stores) -> None:
    """Backfilling a skipped day after later days ran would take the portfolio back in time."""
    import dagster as dg

    lending, operations, home = sqlite_stores
    with dg.instance_for_test() as instance:
        later = AS_OF + dt.timedelta(days=2)
        assert run_assignment(lending, operations, home, as_of=later, instance=instance).success
        after_later = snapshot(operations)
        skipped = run_assignment(
            lending, operations, home, checks=False, instance=instance, raise_on_error=False
        )
        assert not skipped.success
        failure = next(e for e in skipped.all_events if e.is_step_failure)
        assert f"older than the latest applied one ({later})" in str(failure.step_failure_data.error)
        assert snapshot(operations) == after_later
        dry = run_assignment(lending, operations, home, checks=False, instance=instance, dry_run=True)
        assert dry.success and snapshot(operations) == after_later
        # the same day again (a re-run) and the next day are fine
        assert run_assignment(lending, operations, home, as_of=later, instance=instance).success
        assert run_assignment(
            lending, operations, home, as_of=later + dt.timedelta(days=1), instance=instance
        ).success


def _small_stores(url: str, day: dt.date) -> None:
    """Contracts 1–5 at 100 days on ``day``; contract 6 at 59 (61 two days later); nobody holds any."""
    from cartera_pipelines.defs.collections.tables import LENDING_TABLES, OPERATIONS_TABLES
    from cartera_pipelines.sandbox.db import recreate_tables

    engine = recreate_tables(url, (*LENDING_TABLES, *OPERATIONS_TABLES))
    with engine.begin() as conn:
        conn.execute(contract_status.insert(), [{"contract_id": c, "status": "ACTIVO"} for c in range(1, 7)])
        due = {c: day - dt.timedelta(days=100) for c in range(1, 6)} | {6: day - dt.timedelta(days=59)}
        conn.execute(
            contract_amortization.insert(),
            [{"contract_id": c, "payment_date": d, "pending_balance": 10} for c, d in due.items()],
        )
    engine.dispose()


def test_the_odd_remainder_turn_alternates_by_run_and_is_stored_in_the_run_history(tmp_path: Path) -> None:
    """Two runs two days apart (a skipped day: the same date parity) still alternate the extra contract."""
    import dagster as dg

    url = f"sqlite:///{tmp_path / 'stores.db'}"
    _small_stores(url, AS_OF)
    with dg.instance_for_test() as instance:
        first = run_assignment(url, url, tmp_path, instance=instance)
        meta = _metadata(first, CONTRACT_ADVISORS)
        holdings = _holdings(url)
        winner = max(HOUSES, key=lambda h: len(holdings[h]))
        other = next(h for h in HOUSES if h != winner)
        assert sorted(len(v) for v in holdings.values()) == [2, 3]
        assert meta["tie_turn"] == f"{winner}, {other}" and meta["next_turn"] == f"{other}, {winner}"

        # the winner is paid one contract back; contract 6 reaches 61 days: 2 and 2 held, 5 to share again
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                sa.update(contract_amortization)
                .where(contract_amortization.c.contract_id == holdings[winner][0])
                .values(pending_balance=0)
            )
        engine.dispose()
        later = run_assignment(url, url, tmp_path, as_of=AS_OF + dt.timedelta(days=2), instance=instance)
        assert _metadata(later, CONTRACT_ADVISORS)["tie_turn"] == f"{other}, {winner}"
        after = _holdings(url)
        assert len(after[other]) == 3 and len(after[winner]) == 2, "the same house got the extra twice"
        assert 6 in after[other]

        # a dry run does not take a turn: the next run still starts from the last applied one's
        dry = run_assignment(
            url, url, tmp_path, as_of=AS_OF + dt.timedelta(days=3), instance=instance, dry_run=True
        )
        assert _metadata(dry, CONTRACT_ADVISORS)["tie_turn"] == f"{winner}, {other}"
        assert run_history.latest_applied(instance, CONTRACT_ADVISORS).next_turn == (winner, other)
