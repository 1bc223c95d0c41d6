"""The exposure snapshot and its checks on the sandbox (SQLite and PostgreSQL)."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import dagster as dg
import sqlalchemy as sa
from stdnum.cl import rut as stdnum_rut

from cartera_pipelines.defs.factoring import checks, tables
from cartera_pipelines.defs.factoring.assets import factoring_exposure
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines_tests.defs.factoring.conftest import TODAY

CHECKS = [
    checks.one_row_per_client,
    checks.linea_disponible_matches_open_operations,
    checks.ruts_are_valid,
    checks.operation_pricing_reconciles,
]


def _run(ops: SqlDatabase, wh: SqlDatabase, day: dt.date = TODAY) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [factoring_exposure, *CHECKS],
        resources={"operations_db": ops, "warehouse_db": wh},
        partition_key=day.isoformat(),
    )


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def _debtor_key(written: str) -> str:
    # Independent of the code under test: stdnum's compact, leading zeros dropped.
    return stdnum_rut.compact(written.replace("\u2013", "-")).lstrip("0")


def test_exposure_numbers_on_the_sandbox(factoring_store: SqlDatabase, warehouse: SqlDatabase) -> None:
    result = _run(factoring_store, warehouse)
    assert result.success
    assert all(c.passed for c in _checks(result).values()), {
        k: c.metadata for k, c in _checks(result).items()
    }

    with factoring_store.connect() as conn:
        open_sum = dict(
            conn.execute(
                sa.select(
                    tables.operaciones_cesion.c.cliente_id,
                    sa.func.sum(tables.operaciones_cesion.c.monto_total_facturas),
                )
                .where(tables.operaciones_cesion.c.estado.in_(["aprobada", "desembolsada"]))
                .group_by(tables.operaciones_cesion.c.cliente_id)
            ).all()
        )
        ceded = conn.execute(
            sa.select(
                tables.operaciones_cesion.c.cliente_id,
                tables.facturas.c.rut_deudor,
                tables.facturas.c.monto_total,
                tables.facturas.c.fecha_vencimiento,
            )
            .select_from(tables.operaciones_cesion.join(tables.operacion_facturas).join(tables.facturas))
            .where(
                tables.operaciones_cesion.c.estado.in_(["aprobada", "desembolsada"]),
                tables.facturas.c.estado.notin_(["pagada", "anulada"]),  # still owed
            )
        ).all()
        clients = {r.id: r for r in conn.execute(sa.select(tables.clientes))}
    by_debtor: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    overdue: dict[int, int] = defaultdict(int)
    for r in ceded:
        by_debtor[r.cliente_id][_debtor_key(r.rut_deudor)] += Decimal(r.monto_total)
        overdue[r.cliente_id] += r.fecha_vencimiento < TODAY

    with warehouse.connect() as conn:
        rows = {r.cliente_id: r for r in conn.execute(sa.select(tables.factoring_exposure))}
    assert set(rows) == set(clients)
    partly_paid = 0
    for cid, row in rows.items():
        face_value = Decimal(open_sum.get(cid) or 0).quantize(Decimal("0.01"))
        outstanding = sum(by_debtor[cid].values(), Decimal(0)).quantize(Decimal("0.01"))
        partly_paid += outstanding < face_value
        assert Decimal(row.monto_operaciones_abiertas) == face_value
        assert Decimal(row.monto_cedido_vigente) == outstanding
        assert Decimal(row.linea_disponible_esperada) == Decimal(clients[cid].linea_credito) - face_value
        assert Decimal(row.utilizacion) == (outstanding / Decimal(clients[cid].linea_credito)).quantize(
            Decimal("0.0001")
        )
        assert row.rut == stdnum_rut.format(_debtor_key(clients[cid].rut))
        assert row.facturas_cedidas_vencidas == overdue[cid]
        if by_debtor[cid]:
            top = max(by_debtor[cid].values())
            share = (top / sum(by_debtor[cid].values())).quantize(Decimal("0.0001"))
            assert Decimal(row.concentracion_deudor_principal) == share
            assert Decimal(row.deudor_principal_monto) == top
        else:
            assert row.concentracion_deudor_principal is None
    assert sum(r.facturas_cedidas_vencidas for r in rows.values()) > 0  # the sandbox has some
    assert partly_paid > 5  # and clients whose debtors paid part of an open operation

    mat = result.asset_materializations_for_node(factoring_exposure.op.name)[0]
    assert mat.metadata["dagster/row_count"].value == len(clients)
    assert mat.metadata["exposure_chart"].value.startswith("![exposure by client](data:image/png;base64,")

    # A re-run for the same date replaces its slice: still one row per client.
    _run(factoring_store, warehouse)
    with warehouse.connect() as conn:
        assert conn.execute(
            sa.select(sa.func.count()).select_from(tables.factoring_exposure)
        ).scalar_one() == len(clients)


def test_checks_catch_a_legacy_price_a_bad_rut_and_a_stale_line(
    factoring_store: SqlDatabase, warehouse: SqlDatabase
) -> None:
    operations, clients, invoices = tables.operaciones_cesion, tables.clientes, tables.facturas
    with factoring_store.begin() as conn:
        op = conn.execute(
            sa.select(operations)
            .where(operations.c.estado == "desembolsada")
            .order_by(operations.c.id)
            .limit(1)
        ).one()
        # A legacy procedure that counted 365-day years: one cent… or more off.
        conn.execute(
            sa.update(operations)
            .where(operations.c.id == op.id)
            .values(
                monto_descuento=Decimal(op.monto_descuento) * 360 / 365,
                monto_a_desembolsar=Decimal(op.monto_total_facturas)
                - Decimal(op.monto_descuento) * 360 / 365,
            )
        )
        conn.execute(sa.update(clients).where(clients.c.id == 2).values(rut="12.345.678-4"))
        conn.execute(sa.update(invoices).where(invoices.c.id == 7).values(rut_deudor="76.086.428-K"))
        conn.execute(
            sa.update(clients)
            .where(clients.c.id == 3)
            .values(linea_disponible=clients.c.linea_disponible + 1)
        )
    result = _run(factoring_store, warehouse)
    found = _checks(result)
    assert found["one_row_per_client"].passed
    pricing_check = found["operation_pricing_reconciles"]
    assert not pricing_check.passed and pricing_check.metadata["offenders"].value == 1
    assert f"| {op.id} |" in pricing_check.metadata["sample"].value
    rut_check = found["ruts_are_valid"]
    assert not rut_check.passed and rut_check.metadata["offenders"].value == 2
    assert (
        "12.345.678-4" in rut_check.metadata["sample"].value
        and "76.086.428-K" in rut_check.metadata["sample"].value
    )
    line_check = found["linea_disponible_matches_open_operations"]
    assert not line_check.passed and line_check.metadata["offenders"].value == 1
    with warehouse.connect() as conn:
        row = conn.execute(
            sa.select(tables.factoring_exposure).where(tables.factoring_exposure.c.cliente_id == 2)
        ).one()
    assert row.rut is None and row.rut_original == "12.345.678-4"  # reported, not dropped


def test_each_chile_day_is_a_partition_and_keeps_its_slice(
    factoring_store: SqlDatabase, warehouse: SqlDatabase
) -> None:
    yesterday = TODAY - dt.timedelta(days=1)
    for day in (yesterday, TODAY, yesterday):  # the re-run replaces its own day only
        result = _run(factoring_store, warehouse, day)
        assert all(c.passed for c in _checks(result).values())
        mat = result.asset_materializations_for_node(factoring_exposure.op.name)[0]
        assert mat.partition == day.isoformat() and mat.metadata["as_of"].value == day.isoformat()
    with warehouse.connect() as conn:
        per_day = dict(
            conn.execute(
                sa.select(tables.factoring_exposure.c.as_of, sa.func.count()).group_by(
                    tables.factoring_exposure.c.as_of
                )
            ).all()
        )
    with factoring_store.connect() as conn:
        clients = conn.execute(sa.select(sa.func.count()).select_from(tables.clientes)).scalar_one()
    assert per_day == {yesterday: clients, TODAY: clients}
