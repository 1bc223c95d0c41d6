"""The overdue rule as it runs (the batch's SQL), and Chile's calendar date deciding it, not UTC's."""

import datetime as dt

import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.factoring import sql, tables
from cartera_pipelines.lib.dates import SANTIAGO, DateInputError, local_date, parse_as_of
from cartera_pipelines.sandbox.db import recreate_tables

UTC = dt.UTC
AS_OF = dt.date(2026, 3, 9)


@pytest.mark.parametrize(
    "moment, expected",
    [
        (dt.datetime(2026, 3, 10, 2, 0, tzinfo=UTC), dt.date(2026, 3, 9)),  # summer time, UTC-3
        (dt.datetime(2026, 3, 10, 3, 0, tzinfo=UTC), dt.date(2026, 3, 10)),
        (dt.datetime(2026, 7, 10, 3, 30, tzinfo=UTC), dt.date(2026, 7, 9)),  # winter, UTC-4
        (dt.datetime(2026, 7, 10, 4, 30, tzinfo=UTC), dt.date(2026, 7, 10)),
        (dt.datetime(2026, 3, 10, 2, 0), dt.date(2026, 3, 9)),  # naive means UTC
    ],
)
def test_chile_date(moment: dt.datetime, expected: dt.date) -> None:
    assert local_date(moment, SANTIAGO) == expected


def test_default_as_of_is_chile_today_not_utc_today() -> None:
    late_evening_in_santiago = dt.datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    assert late_evening_in_santiago.date() == dt.date(2026, 3, 10)
    assert parse_as_of("", SANTIAGO, now=late_evening_in_santiago) == dt.date(2026, 3, 9)
    assert parse_as_of("2026-01-31", SANTIAGO) == dt.date(2026, 1, 31)
    with pytest.raises(DateInputError, match="as_of='31/01/2026' is not a date"):
        parse_as_of("31/01/2026", SANTIAGO)


CASES = [
    ("disponible", dt.date(2026, 3, 8), True),
    ("en_proceso", dt.date(2026, 3, 8), True),
    ("disponible", dt.date(2026, 3, 9), False),  # due today is not yet overdue
    ("disponible", dt.date(2026, 3, 10), False),
    ("cedida", dt.date(2026, 1, 1), False),
    ("pagada", dt.date(2026, 1, 1), False),
    ("anulada", dt.date(2026, 1, 1), False),
    ("vencida", dt.date(2026, 1, 1), False),
]


def test_the_batch_marks_exactly_what_the_rule_says(any_store_url: str) -> None:
    """The SQL the batch runs, on SQLite, PostgreSQL and MariaDB: one invoice per case."""
    engine = recreate_tables(any_store_url, tables.OPERATIONS_TABLES)
    with engine.begin() as conn:
        conn.execute(
            tables.clientes.insert().values(
                id=1,
                rut="76.086.428-5",
                razon_social="C",
                linea_credito=1,
                linea_disponible=1,
                estado="activo",
            )
        )
        conn.execute(
            tables.facturas.insert(),
            [
                {
                    "id": number,
                    "cliente_id": 1,
                    "numero_factura": f"F{number}",
                    "rut_deudor": "76.086.428-5",
                    "monto_total": 1000,
                    "fecha_emision": due - dt.timedelta(days=30),
                    "fecha_vencimiento": due,
                    "estado": estado,
                }
                for number, (estado, due, _) in enumerate(CASES, start=1)
            ],
        )
    with engine.begin() as conn:
        batch = sql.mark_overdue(conn, AS_OF, run_id="r1", now=dt.datetime.now(UTC))
        states = dict(conn.execute(sa.select(tables.facturas.c.id, tables.facturas.c.estado)).all())
        events = conn.execute(sa.select(tables.factura_eventos.c.factura_id)).scalars().all()
    engine.dispose()
    expected = {number for number, (_, _, overdue) in enumerate(CASES, start=1) if overdue}
    assert batch.marked == len(expected) and sorted(events) == sorted(expected)
    for number, (estado, _, overdue) in enumerate(CASES, start=1):
        assert states[number] == ("vencida" if overdue else estado), CASES[number - 1]
