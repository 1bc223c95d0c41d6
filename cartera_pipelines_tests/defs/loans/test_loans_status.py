"""Installment status: the rule that runs (``sql.status_sql``), on SQLite, PostgreSQL and MariaDB.

"Paid" has one definition (``sql.paid_installment``): the status refresh and "has payments" read the
same four columns, so an installment with only late fees or only ``total_pagado`` recorded is PARCIAL,
not PENDIENTE.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.loans import sql
from cartera_pipelines.defs.loans.status import Status, unpaid_status
from cartera_pipelines.defs.loans.tables import cuotas, operations, prestamos
from cartera_pipelines.resources.database import create_store_engine

D = Decimal
AS_OF = dt.date(2026, 11, 21)
CASES = [
    # due, capital paid, interest paid, late fees paid, total paid → status (capital 100.00, interest 10.00)
    (dt.date(2026, 12, 1), "0", "0", "0", "0", Status.PENDIENTE),
    (dt.date(2026, 11, 21), "0", "0", "0", "0", Status.PENDIENTE),  # due today is not late yet
    (dt.date(2026, 11, 20), "0", "0", "0", "0", Status.ATRASADO),
    (dt.date(2026, 12, 1), "0", "5.00", "0", "0", Status.PARCIAL),
    (dt.date(2026, 11, 1), "50.00", "5.00", "0", "0", Status.ATRASADO),  # partly paid and overdue
    (dt.date(2026, 11, 1), "100.00", "10.00", "0", "0", Status.PAGADO),
    (dt.date(2026, 12, 1), "100.00", "10.00", "0", "0", Status.PAGADO),
    (dt.date(2026, 12, 1), "100.00", "9.99", "0", "0", Status.PARCIAL),
    (dt.date(2026, 12, 1), "0", "0", "3.00", "0", Status.PARCIAL),  # only late fees recorded
    (dt.date(2026, 12, 1), "0", "0", "0", "110.00", Status.PARCIAL),  # only the total recorded
    (dt.date(2026, 11, 1), "0", "0", "3.00", "3.00", Status.ATRASADO),  # fees do not pay the installment
    (dt.date(2026, 12, 1), "0", "0", "0", "0.004", Status.PENDIENTE),  # less than half a cent is nothing
]


def _store(url: str, rows: list[dict[str, object]]) -> sa.Engine:
    engine = create_store_engine(url)
    operations.create_all(engine)
    with engine.begin() as conn:
        conn.execute(prestamos.insert().values(id=1, estado="APROBADO"))
        conn.execute(cuotas.insert(), rows)
    return engine


def _row(k: int, due: dt.date, capital: Decimal, interest: Decimal, *paid: Decimal) -> dict[str, object]:
    capital_paid, interest_paid, fees, total = paid or (D(0),) * 4
    return {
        "prestamo_id": 1,
        "numero_cuota": k,
        "fecha_vencimiento": due,
        "monto_cuota": capital + interest,
        "monto_capital": capital,
        "monto_interes": interest,
        "saldo_capital_inicial": capital,
        "saldo_capital_final": D(0),
        "capital_pagado": capital_paid,
        "interes_pagado": interest_paid,
        "mora_pagada": fees,
        "total_pagado": total,
        "capital_pendiente": capital,
        "interes_pendiente": interest,
        "estado": "?",
    }


def _statuses(engine: sa.Engine) -> list[str]:
    query = sa.select(sql.status_sql(AS_OF)).order_by(cuotas.c.numero_cuota)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def test_the_status_rule_and_the_one_definition_of_paid(any_store_url: str) -> None:
    rows = [
        _row(k, due, D("100.00"), D("10.00"), *(D(v) for v in paid))
        for k, (due, *paid, _expected) in enumerate(CASES, start=1)
    ]
    engine = _store(any_store_url, rows)
    assert _statuses(engine) == [case[-1].value for case in CASES]
    with engine.begin() as conn:  # the refresh writes the same rule
        assert sql.refresh_status(conn, AS_OF) == len(CASES)
        assert [s for (s,) in conn.execute(sa.select(cuotas.c.estado).order_by(cuotas.c.numero_cuota))] == [
            case[-1].value for case in CASES
        ]
    engine.dispose()


@pytest.mark.parametrize("seed", [1, 2])
def test_new_schedules_are_written_with_the_rule_that_runs(any_store_url: str, seed: int) -> None:
    """``unpaid_status`` (used to write new schedules) is the SQL rule with nothing paid."""
    rng = random.Random(seed)
    rows, expected = [], []
    for k in range(1, 201):
        due = AS_OF + dt.timedelta(days=rng.randint(-40, 40))
        capital = D(rng.choice([0, 0, rng.randint(1, 10**8)])).scaleb(-2)
        interest = D(rng.choice([0, 0, rng.randint(1, 10**6)])).scaleb(-2)
        rows.append(_row(k, due, capital, interest))
        expected.append(unpaid_status(due, capital == 0 and interest == 0, AS_OF).value)
    engine = _store(any_store_url, rows)
    assert _statuses(engine) == expected
    engine.dispose()
