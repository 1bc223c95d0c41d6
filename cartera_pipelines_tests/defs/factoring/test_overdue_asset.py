"""The overdue batch on the sandbox, on SQLite and PostgreSQL: Chile's date, set-based, idempotent."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.factoring import checks, tables
from cartera_pipelines.defs.factoring.assets import facturas_vencidas
from cartera_pipelines.defs.factoring.config import OverdueConfig
from cartera_pipelines.lib.dates import SANTIAGO, parse_as_of
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines_tests.defs.factoring.conftest import TODAY

# 02:00 UTC on 2026-03-10 is still 23:00 on 2026-03-09 in Santiago.
BOUNDARY = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
NODE = facturas_vencidas.op.name
BATCH = [facturas_vencidas, checks.no_overdue_invoice_left, checks.one_event_per_marked_invoice]


def _config(as_of: dt.date) -> dg.RunConfig:
    return dg.RunConfig(ops={NODE: OverdueConfig(as_of=as_of.isoformat())})


def _run(db: SqlDatabase, as_of: dt.date) -> dg.ExecuteInProcessResult:
    return dg.materialize(BATCH, resources={"operations_db": db}, run_config=_config(as_of))


def is_overdue(estado: str, due: dt.date, as_of: dt.date) -> bool:
    """The oracle, written from DESIGN: not ceded, paid, voided or already vencida, and due before as_of."""
    return estado not in ("cedida", "pagada", "anulada", "vencida") and due < as_of


def _invoices(db: SqlDatabase) -> dict[int, tuple[str, dt.date]]:
    with db.connect() as conn:
        return {
            r.id: (r.estado, r.fecha_vencimiento)
            for r in conn.execute(
                sa.select(tables.facturas.c.id, tables.facturas.c.estado, tables.facturas.c.fecha_vencimiento)
            )
        }


def test_marks_overdue_by_chile_date_once(factoring_store: SqlDatabase) -> None:
    as_of = parse_as_of("", SANTIAGO, now=BOUNDARY)
    assert as_of == TODAY and BOUNDARY.date() == TODAY + dt.timedelta(days=1)
    before = _invoices(factoring_store)
    expected = {i for i, (estado, due) in before.items() if is_overdue(estado, due, as_of)}
    due_today = {i for i, (estado, due) in before.items() if due == TODAY and estado == "disponible"}
    due_yesterday = {
        i for i, (e, due) in before.items() if due == TODAY - dt.timedelta(days=1) and e == "disponible"
    }
    assert expected and due_today and due_yesterday <= expected
    # With the UTC date the invoices due on Chile's "today" would wrongly be marked as well.
    assert all(is_overdue("disponible", TODAY, BOUNDARY.date()) for _ in due_today)

    result = _run(factoring_store, as_of)
    assert result.success
    after = _invoices(factoring_store)
    marked = {i for i in before if after[i][0] == "vencida" and before[i][0] != "vencida"}
    assert marked == expected
    assert all(after[i][0] == "disponible" for i in due_today)
    assert all(after[i][0] == before[i][0] for i in before if i not in expected)

    with factoring_store.connect() as conn:
        events = conn.execute(
            sa.select(tables.factura_eventos).where(tables.factura_eventos.c.run_id.is_not(None))
        ).all()
        all_events = conn.execute(sa.select(sa.func.count()).select_from(tables.factura_eventos)).scalar_one()
    assert sorted(e.factura_id for e in events) == sorted(expected)
    assert {e.fecha_referencia for e in events} == {TODAY}
    assert all(e.estado_anterior == before[e.factura_id][0] and e.estado_nuevo == "vencida" for e in events)

    mat = result.asset_materializations_for_node(NODE)[0]
    assert mat.metadata["facturas_marcadas"].value == len(expected)
    assert mat.metadata["as_of"].value == "2026-03-09"
    assert "| cliente_id |" in mat.metadata["por_cliente"].value
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"no_overdue_invoice_left": True, "one_event_per_marked_invoice": True}

    # Idempotent: the same date again changes nothing and writes no event.
    again = _run(factoring_store, as_of)
    assert again.asset_materializations_for_node(NODE)[0].metadata["facturas_marcadas"].value == 0
    assert _invoices(factoring_store) == after
    with factoring_store.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(tables.factura_eventos)).scalar_one()
            == all_events
        )


def test_next_chile_day_marks_the_invoices_due_today(factoring_store: SqlDatabase) -> None:
    before = _invoices(factoring_store)
    due_today = {i for i, (estado, due) in before.items() if due == TODAY and estado == "disponible"}
    _run(factoring_store, TODAY)
    _run(factoring_store, TODAY + dt.timedelta(days=1))
    after = _invoices(factoring_store)
    assert all(after[i][0] == "vencida" for i in due_today)


def test_a_failed_batch_leaves_everything_as_it_was(factoring_store: SqlDatabase) -> None:
    before = _invoices(factoring_store)
    # Drop the events table so the INSERT fails after the aggregate ran: nothing may be half-written.
    with factoring_store.begin() as conn:
        conn.execute(sa.text("DROP TABLE factura_eventos"))
    result = dg.materialize(
        BATCH, resources={"operations_db": factoring_store}, run_config=_config(TODAY), raise_on_error=False
    )
    assert not result.success
    assert _invoices(factoring_store) == before
