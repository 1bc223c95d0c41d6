"""``operations/cuotas`` on the lender's tables as they are (issue #17), on SQLite, PostgreSQL and MariaDB.

TIMESTAMP/TIMESTAMPTZ dates, DOUBLE and DECIMAL amounts, words in any case and padding; a stale biweekly
schedule from the old generator; an overflowing principal among 999 good loans; a payment recorded while
the run regenerates; one definition of "paid"; one loan regenerated on request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.loans import sql
from cartera_pipelines.defs.loans.amortization import due_dates, schedule
from cartera_pipelines.defs.loans.tables import operations
from cartera_pipelines.defs.loans.terms import LoanTerms, Method, Modality
from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines_tests.defs.loans import lender
from cartera_pipelines_tests.defs.loans.conftest import check_outcomes, cuotas_metadata, materialize_cuotas

D = Decimal
AS_OF = "2024-03-10"
EARLY = "2024-01-20"
INVARIANTS = [
    "capital_sums_to_principal",
    "final_balance_zero",
    "cuota_equals_capital_plus_interest",
    "due_dates_increasing",
    "installment_numbers_unique",
]


def _when(day: dt.date, shape: str, hour: int = 10, minute: int = 15) -> dt.datetime:
    """A base date as the lender's service writes it: the moment of approval, aware where the column is."""
    moment = dt.datetime.combine(day, dt.time(hour, minute))
    return moment.replace(tzinfo=lender.BOGOTA) if shape == "timestamptz" else moment


def _loan(loan_id: int, shape: str, **values: Any) -> dict[str, Any]:
    row = {
        "id": loan_id,
        "total_financiamiento": D("1000.00"),
        "numero_cuotas": 3,
        "tasa_interes": D("12.00"),
        "modalidad_pago": "MENSUAL",
        "metodo_amortizacion": "FRANCESA",
        "fecha_base_calculo": _when(dt.date(2024, 1, 15), shape),
        "estado": "APROBADO",
    } | values
    if shape == "timestamp":  # DOUBLE PRECISION columns: the driver hands floats over
        row["total_financiamiento"] = float(row["total_financiamiento"])
        row["tasa_interes"] = float(row["tasa_interes"])
    return row


def _stored(url: str, loan_id: int) -> list[tuple[Any, ...]]:
    """(number, due date, cuota, capital, interest, opening, closing) as stored, read independently."""
    return [
        (
            int(r["numero_cuota"]),
            lender.as_date(r["fecha_vencimiento"]),
            *(
                lender.as_money(r[name])
                for name in (
                    "monto_cuota",
                    "monto_capital",
                    "monto_interes",
                    "saldo_capital_inicial",
                    "saldo_capital_final",
                )
            ),
        )
        for r in lender.read(url, "cuotas", f"WHERE prestamo_id = {loan_id}")
    ]


def _engine_rows(terms: LoanTerms) -> list[tuple[Any, ...]]:
    return [tuple(i) for i in schedule(terms)]


@pytest.mark.parametrize("shape", lender.SHAPES)
def test_the_lenders_tables_are_read_as_they_are(any_store_url: str, shape: str) -> None:
    url = any_store_url
    lender.create_tables(url, shape)
    lender.insert(
        url,
        "prestamos",
        [
            # the tie: 1,912.75 at 24 % monthly over 3 pays 663.255 exactly → 663.26
            _loan(1, shape, total_financiamiento=D("1912.75"), tasa_interes=D("24"), modalidad_pago="mensual"),
            # constructed ties for the other two frequencies: 202.005 and 804.005 exactly
            _loan(2, shape, total_financiamiento=D("401.00"), numero_cuotas=2, modalidad_pago=" quincenal",
                  metodo_amortizacion="FRANCESA ", estado="aprobado "),
            _loan(3, shape, total_financiamiento=D("1602.00"), tasa_interes=D("13"), numero_cuotas=2,
                  modalidad_pago="Semanal", metodo_amortizacion="francesa"),
            # approved late in the evening in Bogotá: already the next day in UTC
            _loan(4, shape, total_financiamiento=D("10000000.00"), tasa_interes=D("24"), numero_cuotas=12,
                  modalidad_pago="MENSUAL ", metodo_amortizacion="alemana",
                  fecha_base_calculo=_when(dt.date(2024, 2, 29), shape, 23, 30)),
            _loan(5, shape, tasa_interes=D("0"), numero_cuotas=4, modalidad_pago="SEMANAL", metodo_amortizacion="americana"),
            _loan(6, shape, estado="SOLICITADO"),
        ],
    )  # fmt: skip
    expected = {
        1: LoanTerms(D("1912.75"), D("24"), 3, Modality.MENSUAL, Method.FRANCESA, dt.date(2024, 1, 15)),
        2: LoanTerms(D("401.00"), D("12"), 2, Modality.QUINCENAL, Method.FRANCESA, dt.date(2024, 1, 15)),
        3: LoanTerms(D("1602.00"), D("13"), 2, Modality.SEMANAL, Method.FRANCESA, dt.date(2024, 1, 15)),
        4: LoanTerms(D("10000000.00"), D("24"), 12, Modality.MENSUAL, Method.ALEMANA, dt.date(2024, 2, 29)),
        5: LoanTerms(D("1000.00"), D("0"), 4, Modality.SEMANAL, Method.AMERICANA, dt.date(2024, 1, 15)),
    }

    first = materialize_cuotas(url, as_of=AS_OF)

    assert first.success
    meta = cuotas_metadata(first)
    assert (meta["schedules_created"], meta["invalid_loans"], meta["loans_blocked_by_payments"]) == (5, 0, 0)
    for loan_id, terms in expected.items():
        assert _stored(url, loan_id) == _engine_rows(terms), loan_id
    assert [row[2] for row in _stored(url, 1)][:2] == [D("663.26")] * 2
    assert _stored(url, 2)[0][2] == D("202.01")
    assert _stored(url, 3)[0][2] == D("804.01")
    assert _stored(url, 4)[0][1] == dt.date(2024, 3, 29)
    assert not _stored(url, 6)
    outcomes = check_outcomes(first)
    assert all(outcomes.values()), outcomes
    # the dates written come back as the same days: a second run finds every schedule right
    second = materialize_cuotas(url, as_of=AS_OF, with_checks=False)
    meta = cuotas_metadata(second)
    assert (meta["installments_written"], meta["installments_deleted"], meta["schedules_regenerated"]) == (
        0,
        0,
        0,
    )
    assert meta["status_refreshed"] == 0


@pytest.mark.parametrize(
    ("drop", "override", "message"),
    [
        (
            ["metodo_amortizacion"],
            {},
            "operations table prestamos has no column metodo_amortizacion "
            "(expected FRANCESA, ALEMANA or AMERICANA as text)",
        ),
        (
            ["mora_pagada"],
            {},
            "operations table cuotas has no column mora_pagada (expected an amount: NUMERIC, DECIMAL or DOUBLE)",
        ),
        (
            [],
            {"fecha_base_calculo": "BOOLEAN"},
            "operations table prestamos, column fecha_base_calculo is ",
        ),
        (
            [],
            {"monto_interes": "NUMERIC(15,0)"},
            "(15, 0): expected 2 decimal places (cents)",
        ),
    ],
)
def test_a_missing_or_unreadable_column_fails_with_one_line(
    any_store_url: str, drop: list[str], override: dict[str, str], message: str
) -> None:
    url = any_store_url
    lender.create_tables(url, "timestamp", drop=drop, override=override)
    skipped = {*drop, *override}
    lender.insert(url, "prestamos", [{k: v for k, v in _loan(1, "timestamp").items() if k not in skipped}])
    result = materialize_cuotas(url, with_checks=False)
    if "BOOLEAN" in override.values() and url.startswith("sqlite"):
        # SQLite's declared types are only affinities: there the values are checked, record by record
        assert result.success
        assert "missing base date" in cuotas_metadata(result)["invalid_loans_table"]
        return
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert message in description and "\n" not in description, description
    if "BOOLEAN" in override.values():
        assert description.endswith("(expected the base date: DATE, TIMESTAMP or TIMESTAMPTZ)")


def _old_biweekly_rows(
    loan_id: int, terms: LoanTerms, shape: str, paid_first: str = ""
) -> list[dict[str, Any]]:
    """What the old generator wrote for a biweekly loan: right count and dates, the monthly rate."""
    monthly = schedule(dataclasses.replace(terms, modality=Modality.MENSUAL))
    dates = due_dates(terms.base_date, terms.modality, terms.installments)
    rows = []
    for installment, due in zip(monthly, dates, strict=True):
        row = {
            "prestamo_id": loan_id,
            "numero_cuota": installment.numero_cuota,
            "fecha_vencimiento": lender.due_value(due, shape),
            "monto_cuota": installment.monto_cuota,
            "monto_capital": installment.monto_capital,
            "monto_interes": installment.monto_interes,
            "saldo_capital_inicial": installment.saldo_capital_inicial,
            "saldo_capital_final": installment.saldo_capital_final,
            "capital_pagado": D("0.00"),
            "interes_pagado": D("0.00"),
            "mora_pagada": D("0.00"),
            "total_pagado": D("0.00"),
            "capital_pendiente": installment.monto_capital,
            "interes_pendiente": installment.monto_interes,
            "estado": "PENDIENTE",
        }
        if paid_first and installment.numero_cuota == 1:
            row[paid_first] = installment.monto_interes
        rows.append(row)
    return rows


BIWEEKLY = LoanTerms(D("1200000.00"), D("24"), 6, Modality.QUINCENAL, Method.FRANCESA, dt.date(2024, 1, 15))


def _stale_portfolio(url: str, shape: str, paid: dict[int, str]) -> None:
    """Loans 1–3: QUINCENAL with the old generator's schedule (``paid`` records a payment in a column)."""
    lender.create_tables(url, shape)
    lender.insert(
        url,
        "prestamos",
        [_loan(i, shape, total_financiamiento=D("1200000.00"), tasa_interes=D("24"), numero_cuotas=6,
               modalidad_pago="QUINCENAL") for i in (1, 2, 3)],
    )  # fmt: skip
    for loan_id in (1, 2, 3):
        lender.insert(url, "cuotas", _old_biweekly_rows(loan_id, BIWEEKLY, shape, paid.get(loan_id, "")))


def test_a_stale_biweekly_schedule_is_regenerated_and_reported(any_store_url: str) -> None:
    url = any_store_url
    _stale_portfolio(url, "timestamp", paid={2: "interes_pagado", 3: "total_pagado"})
    before = {loan_id: _stored(url, loan_id) for loan_id in (2, 3)}

    result = materialize_cuotas(url, as_of=AS_OF)

    assert result.success
    meta = cuotas_metadata(result)
    assert meta["schedules_regenerated"] == 1 and meta["installments_deleted"] == 6
    assert "| 1 |" in meta["regenerated_loans_table"]
    assert "| installment 1: monto_cuota " in meta["regenerated_loans_table"]
    assert "; monto_interes 24,000.00 stored, 12,000.00 expected;" in meta["regenerated_loans_table"]
    assert _stored(url, 1) == _engine_rows(BIWEEKLY)
    # loans with payments (interest paid, or only total_pagado: the same definition of paid) are kept
    assert meta["loans_blocked_by_payments"] == 2
    for loan_id in (2, 3):
        assert f"| {loan_id} |" in meta["blocked_loans_table"]
        assert _stored(url, loan_id) == before[loan_id]
    assert "payments recorded: installment 1: monto_cuota" in meta["blocked_loans_table"]


def test_a_payment_recorded_during_the_run_stops_the_regeneration(
    any_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = any_store_url
    _stale_portfolio(url, "timestamp", paid={})
    real_read = sql.stored_schedules

    def read_then_a_payment_arrives(conn: sa.Connection, first_id: int, last_id: int) -> Any:
        stored = real_read(conn, first_id, last_id)
        engine = create_store_engine(url)  # the lender's cashier, on another connection
        with engine.begin() as other:
            other.exec_driver_sql(
                "UPDATE cuotas SET capital_pagado = monto_capital WHERE prestamo_id = 2 AND numero_cuota = 1"
            )
        engine.dispose()
        return stored

    monkeypatch.setattr(sql, "stored_schedules", read_then_a_payment_arrives)
    result = materialize_cuotas(url, as_of=AS_OF, with_checks=False)

    assert result.success
    meta = cuotas_metadata(result)
    assert meta["schedules_regenerated"] == 2 and meta["installments_deleted"] == 12
    assert "| 2 |" in meta["blocked_loans_table"] and "changed during the run" in meta["blocked_loans_table"]
    [paid_row, *rest] = lender.read(url, "cuotas", "WHERE prestamo_id = 2")
    assert lender.as_money(paid_row["capital_pagado"]) == lender.as_money(paid_row["monto_capital"]) > 0
    assert len(rest) == 5
    assert _stored(url, 1) == _stored(url, 3) == _engine_rows(BIWEEKLY)


def test_an_overflowing_principal_is_refused_alone(any_store_url: str) -> None:
    """999 good loans and one whose last installment does not fit NUMERIC(15,2), in one batch of 1,000."""
    url = any_store_url
    engine = create_store_engine(url)
    operations.create_all(engine)
    huge = {"total_financiamiento": D("9999999999999.99"), "metodo_amortizacion": "AMERICANA"}
    loans = [
        {
            "id": i,
            "total_financiamiento": D("1000.00"),
            "numero_cuotas": 3,
            "tasa_interes": D("24.00"),
            "modalidad_pago": "MENSUAL",
            "metodo_amortizacion": "FRANCESA",
            "fecha_base_calculo": dt.date(2024, 1, 15),
            "estado": "APROBADO",
        }
        | (huge if i == 500 else {})
        for i in range(1, 1001)
    ]
    with engine.begin() as conn:
        conn.execute(operations.tables["prestamos"].insert(), loans)
    engine.dispose()

    for _run in range(2):  # and a rerun does not fail on it either
        result = materialize_cuotas(url, as_of=AS_OF)
        assert result.success
        meta = cuotas_metadata(result)
        assert meta["invalid_loans"] == 1
        assert "| 500 |" in meta["invalid_loans_table"]
        assert (
            "monto_cuota 10,199,999,999,999.99 does not fit cuotas.monto_cuota" in meta["invalid_loans_table"]
        )
        assert meta["dagster/row_count"] == 999 * 3
        outcomes = check_outcomes(result)
        assert all(outcomes[name] for name in INVARIANTS)
        assert outcomes["installment_count_matches"] is False  # loan 500 has no schedule: visible
    assert meta["schedules_created"] == 0 and meta["installments_written"] == 0


def test_one_loan_is_regenerated_on_request(any_store_url: str) -> None:
    url = any_store_url  # as of a day before every due date: every unpaid installment is PENDIENTE
    lender.create_tables(url, "timestamptz")
    lender.insert(
        url,
        "prestamos",
        [_loan(i, "timestamptz") for i in (1, 2, 3)] + [_loan(4, "timestamptz", estado="ANULADO")],
    )
    assert materialize_cuotas(url, as_of=EARLY, with_checks=False).success
    ids_before = {r["prestamo_id"]: r["id"] for r in lender.read(url, "cuotas")}
    engine = create_store_engine(url)
    with engine.begin() as conn:  # loan 3 gets a payment; loan 1's installments were edited by hand
        conn.exec_driver_sql("UPDATE cuotas SET mora_pagada = 5 WHERE prestamo_id = 3 AND numero_cuota = 1")
        conn.exec_driver_sql("UPDATE cuotas SET estado = 'PAGADO' WHERE prestamo_id = 1")
    engine.dispose()

    result = materialize_cuotas(url, as_of=EARLY, with_checks=False, prestamo_id=1)

    assert result.success
    meta = cuotas_metadata(result)
    assert (meta["schedules_regenerated"], meta["installments_deleted"], meta["installments_written"]) == (
        1,
        3,
        3,
    )
    assert "regenerated on request" in meta["regenerated_loans_table"]
    assert "last_approved_id" not in meta  # the sensor's start is a portfolio run's
    after = lender.read(url, "cuotas")
    assert {r["prestamo_id"]: r["id"] for r in after if r["prestamo_id"] != 1} == {
        k: v for k, v in ids_before.items() if k != 1
    }
    assert {r["estado"] for r in after if r["prestamo_id"] == 1} == {"PENDIENTE"}
    blocked = materialize_cuotas(url, as_of=EARLY, with_checks=False, prestamo_id=3)
    assert blocked.success and cuotas_metadata(blocked)["loans_blocked_by_payments"] == 1
    for loan_id, message in (
        (4, "prestamo 4 is 'ANULADO', not APROBADO"),
        (99, "prestamo 99 does not exist"),
    ):
        refused = materialize_cuotas(url, as_of=EARLY, with_checks=False, prestamo_id=loan_id)
        assert not refused.success
        [failure] = [e for e in refused.all_events if e.is_step_failure]
        assert message in failure.step_failure_data.user_failure_data.description
