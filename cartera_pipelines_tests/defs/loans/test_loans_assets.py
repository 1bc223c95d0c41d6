"""``operations/cuotas`` through ``dg.materialize`` on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.loans import generation, sql
from cartera_pipelines.defs.loans.amortization import schedule
from cartera_pipelines.defs.loans.tables import cuotas
from cartera_pipelines.defs.loans.terms import LoanTerms, parse_terms
from cartera_pipelines.lib import bulk
from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines.sandbox import loans as loans_sandbox
from cartera_pipelines_tests.defs.loans.conftest import check_outcomes, cuotas_metadata, materialize_cuotas

INVARIANTS = [
    "capital_sums_to_principal",
    "final_balance_zero",
    "cuota_equals_capital_plus_interest",
    "due_dates_increasing",
    "installment_numbers_unique",
]


def _expected() -> dict[str, Any]:
    """What the sandbox holds, computed from its generator and the engine's schedule (not from the asset)."""
    loans, installments = loans_sandbox.generate()
    approved = {loan["id"]: loan for loan in loans if loan["estado"] == "APROBADO"}
    stored: dict[int, list[tuple[Any, ...]]] = {}
    paid: set[int] = set()
    for row in installments:
        stored.setdefault(row["prestamo_id"], []).append(
            (row["numero_cuota"], row["fecha_vencimiento"], row["monto_cuota"], row["monto_capital"],
             row["monto_interes"], row["saldo_capital_inicial"], row["saldo_capital_final"])
        )  # fmt: skip
        if row["capital_pagado"] or row["interes_pagado"]:
            paid.add(row["prestamo_id"])
    invalid = {i for i, loan in approved.items() if not isinstance(_terms(loan), LoanTerms)}
    valid = set(approved) - invalid
    differs = {
        i for i in valid & set(stored) if stored[i] != [tuple(r) for r in schedule(_terms(approved[i]))]
    }
    return {
        "approved": approved,
        "invalid": invalid,
        "created": valid - set(stored),
        "regenerated": differs - paid,
        "blocked": differs & paid,
        "stale_rates": {i for i in differs if len(stored[i]) == approved[i]["numero_cuotas"]},
        "spelled": {
            i for i in valid if approved[i]["modalidad_pago"] != approved[i]["modalidad_pago"].strip().upper()
        },
        "paid": paid,
    }


def _terms(loan: dict[str, Any]) -> object:
    return parse_terms(
        loan["total_financiamiento"],
        loan["tasa_interes"],
        loan["numero_cuotas"],
        loan["modalidad_pago"],
        loan["metodo_amortizacion"],
        loan["fecha_base_calculo"],
    )


def _table(url: str, where: sa.ColumnElement[bool] | None = None) -> list[tuple[Any, ...]]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(cuotas).order_by(cuotas.c.prestamo_id, cuotas.c.numero_cuota)
            return [tuple(r) for r in conn.execute(query if where is None else query.where(where))]
    finally:
        engine.dispose()


def test_schedules_every_approved_loan_and_reports_the_rest(loans_url: str) -> None:
    expected = _expected()
    assert (
        expected["invalid"]
        and expected["blocked"]
        and expected["regenerated"]
        and expected["paid"] - expected["blocked"]
        and expected["stale_rates"] & expected["regenerated"]
        and expected["stale_rates"] & expected["blocked"]
        and expected["spelled"] & expected["created"]
    )
    paid_before = _table(loans_url, cuotas.c.prestamo_id.in_(expected["paid"]))

    result = materialize_cuotas(loans_url)

    assert result.success
    meta = cuotas_metadata(result)
    assert meta["schedules_created"] == len(expected["created"])
    assert meta["schedules_regenerated"] == len(expected["regenerated"])
    assert meta["invalid_loans"] == len(expected["invalid"]) == 6
    assert meta["loans_blocked_by_payments"] == len(expected["blocked"])
    for loan_id in expected["invalid"] | expected["blocked"]:
        assert f"| {loan_id} |" in meta["invalid_loans_table"] + meta["blocked_loans_table"]
    assert "missing base date" in meta["invalid_loans_table"]
    assert "payments recorded" in meta["blocked_loans_table"]
    for loan_id in expected["regenerated"]:
        assert f"| {loan_id} |" in meta["regenerated_loans_table"]
    # every valid approved loan that could be scheduled has exactly numero_cuotas installments
    engine = create_store_engine(loans_url)
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.select(cuotas.c.prestamo_id, sa.func.count()).group_by(cuotas.c.prestamo_id)
            ).all()
        )
    engine.dispose()
    for loan_id in expected["created"] | expected["regenerated"]:
        assert counts[loan_id] == expected["approved"][loan_id]["numero_cuotas"]
    assert not set(counts) - set(expected["approved"])  # nothing for SOLICITADO/RECHAZADO/ANULADO
    assert not set(counts) & expected["invalid"]
    # loans with payments are untouched: same ids, amounts and payments (only estado may be refreshed)
    paid_after = _table(loans_url, cuotas.c.prestamo_id.in_(expected["paid"]))
    assert [row[:-1] for row in paid_after] == [row[:-1] for row in paid_before]
    outcomes = check_outcomes(result)
    assert all(outcomes[name] for name in INVARIANTS), outcomes
    assert outcomes["loan_terms_valid"] is False
    assert outcomes["installment_count_matches"] is False  # the loans blocked by payments


def test_written_schedules_are_the_engine_schedules_to_the_cent(loans_url: str) -> None:
    expected = _expected()
    materialize_cuotas(loans_url, with_checks=False)
    loan_id = min(expected["created"])
    terms = _terms(expected["approved"][loan_id])
    assert isinstance(terms, LoanTerms)
    stored = _table(loans_url, cuotas.c.prestamo_id == loan_id)
    columns = [c.name for c in cuotas.columns]
    for row, installment in zip(stored, schedule(terms), strict=True):
        record = dict(zip(columns, row))
        assert record["fecha_vencimiento"] == installment.fecha_vencimiento
        for name in (
            "monto_cuota",
            "monto_capital",
            "monto_interes",
            "saldo_capital_inicial",
            "saldo_capital_final",
        ):
            assert record[name] == getattr(installment, name), name
            assert isinstance(record[name], Decimal)


def test_second_run_writes_nothing(loans_url: str) -> None:
    first = materialize_cuotas(loans_url, with_checks=False)
    assert first.success
    before = _table(loans_url)
    second = materialize_cuotas(loans_url, with_checks=False)
    meta = cuotas_metadata(second)
    assert (meta["installments_written"], meta["installments_deleted"], meta["status_refreshed"]) == (0, 0, 0)
    assert meta["schedules_created"] == meta["schedules_regenerated"] == 0
    assert _table(loans_url) == before


def test_status_follows_payments_and_the_as_of_date(loans_url: str) -> None:
    materialize_cuotas(loans_url, as_of="2024-01-01", with_checks=False)  # before every due date
    engine = create_store_engine(loans_url)
    with engine.begin() as conn:
        assert sql.status_counts(conn).get("ATRASADO", 0) == 0
        loan_id = conn.execute(
            sa.select(cuotas.c.prestamo_id)
            .where(cuotas.c.capital_pagado == 0)
            .order_by(cuotas.c.prestamo_id)
            .limit(1)
        ).scalar_one()
        first, second, third = conn.execute(
            sa.select(cuotas.c.id, cuotas.c.monto_capital, cuotas.c.monto_interes, cuotas.c.fecha_vencimiento)
            .where(cuotas.c.prestamo_id == loan_id)
            .order_by(cuotas.c.numero_cuota)
            .limit(3)
        ).all()
        conn.execute(
            sa.update(cuotas)
            .where(cuotas.c.id == first.id)
            .values(capital_pagado=first.monto_capital, interes_pagado=first.monto_interes)
        )
        conn.execute(
            sa.update(cuotas).where(cuotas.c.id == second.id).values(interes_pagado=second.monto_interes)
        )
    engine.dispose()
    as_of = third.fecha_vencimiento  # the third is due today (not late), the second is past due
    result = materialize_cuotas(loans_url, as_of=as_of.isoformat(), with_checks=False)
    assert cuotas_metadata(result)["status_refreshed"] > 0
    states = {row[0]: row[-1] for row in _table(loans_url, cuotas.c.prestamo_id == loan_id)}
    assert states[first.id] == "PAGADO"
    assert states[second.id] == "ATRASADO"  # partly paid and overdue
    assert states[third.id] == "PENDIENTE"
    engine = create_store_engine(loans_url)
    with engine.begin() as conn:
        conn.execute(sa.update(cuotas).where(cuotas.c.id == third.id).values(capital_pagado=Decimal("0.01")))
    engine.dispose()
    materialize_cuotas(loans_url, as_of=as_of.isoformat(), with_checks=False)
    assert {row[0]: row[-1] for row in _table(loans_url, cuotas.c.id == third.id)}[third.id] == "PARCIAL"


def test_a_failing_batch_rolls_back_alone_and_a_rerun_completes(
    loans_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    # PostgreSQL copies each batch on a writer thread while the next is decided (lib.bulk.BackgroundCommits);
    # the other engines write in the batch's own loop
    module, name = (bulk, "copy_text") if loans_url.startswith("postgresql") else (sql, "write_schedules")
    real_write = getattr(module, name)

    def flaky_write(conn: sa.Connection, *args: Any) -> Any:
        calls["n"] += 1
        written = real_write(conn, *args)  # the rows reach the database, then the batch fails
        if calls["n"] == 2:
            raise RuntimeError("connection lost mid-batch")
        return written

    monkeypatch.setattr(module, name, flaky_write)
    failed = materialize_cuotas(loans_url, with_checks=False, batch_size=50)
    assert not failed.success
    expected = _expected()
    approved = sorted(expected["approved"])
    first_batch, second_batch = set(approved[:50]), set(approved[50:100])
    scheduled = {row[1] for row in _table(loans_url)}
    assert expected["created"] & first_batch <= scheduled  # batch 1 committed
    assert not expected["created"] & second_batch & scheduled  # batch 2 rolled back
    monkeypatch.setattr(module, name, real_write)
    rerun = materialize_cuotas(loans_url, with_checks=True, batch_size=50)
    assert rerun.success
    outcomes = check_outcomes(rerun)
    assert all(outcomes[name] for name in INVARIANTS)
    assert generation.DEFAULT_BATCH_SIZE == 1_000


def test_checks_catch_a_corrupted_schedule(loans_url: str) -> None:
    """A corrupted schedule with payments is kept (and reported): the blocking checks must catch it. (An
    unpaid one is regenerated by the asset before the checks run.)"""
    materialize_cuotas(loans_url, with_checks=False)
    engine = create_store_engine(loans_url)
    with engine.begin() as conn:
        victim = conn.execute(
            sa.select(sa.func.min(cuotas.c.prestamo_id)).where(
                cuotas.c.numero_cuota == 3, cuotas.c.capital_pagado > 0
            )
        ).scalar_one()
        conn.execute(
            sa.update(cuotas)
            .where(cuotas.c.prestamo_id == victim, cuotas.c.numero_cuota == 2)
            .values(
                monto_capital=cuotas.c.monto_capital + Decimal("0.01"), fecha_vencimiento=dt.date(1999, 1, 1)
            )
        )
        conn.execute(
            sa.update(cuotas)
            .where(cuotas.c.prestamo_id == victim, cuotas.c.numero_cuota == 3)
            .values(numero_cuota=99)
        )
    engine.dispose()
    result = materialize_cuotas(loans_url)
    assert f"| {victim} |" in cuotas_metadata(result)["blocked_loans_table"]
    outcomes = check_outcomes(result)
    assert outcomes["capital_sums_to_principal"] is False
    assert outcomes["cuota_equals_capital_plus_interest"] is False
    assert outcomes["due_dates_increasing"] is False
    assert outcomes["installment_numbers_unique"] is False
    assert (
        outcomes["final_balance_zero"] is False
    )  # its "last" installment is now #99, which leaves a balance


def test_invalid_as_of_is_a_clear_error(loans_url: str) -> None:
    result = materialize_cuotas(loans_url, as_of="21/11/2026", with_checks=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "as_of='21/11/2026' is not a date" in str(failure.step_failure_data.error)
