"""Checks on ``warehouse/factoring_exposure``: the snapshot is whole, the lines add up, every stored RUT
is valid and every operation's stored pricing equals the formula (a reconciliation that catches a legacy
procedure pricing differently). The overdue batch's own checks are emitted by the asset (they need the
run's ``as_of``)."""

from decimal import Decimal
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.factoring import pricing, rut
from cartera_pipelines.defs.factoring import tables as t
from cartera_pipelines.lib.metadata import markdown_table
from cartera_pipelines.resources.database import SqlDatabase

EXPOSURE = dg.AssetKey(["warehouse", "factoring_exposure"])


def _latest_slice(conn: sa.Connection) -> list[Any]:
    x = t.factoring_exposure
    latest = sa.select(sa.func.max(x.c.as_of)).scalar_subquery()
    return conn.execute(sa.select(x).where(x.c.as_of == latest)).all()


@dg.asset_check(asset=EXPOSURE, description="The latest snapshot has exactly one row per client in clientes.")
def one_row_per_client(warehouse_db: SqlDatabase, operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        rows = _latest_slice(conn)
    with operations_db.connect() as conn:
        clients = conn.execute(sa.select(sa.func.count()).select_from(t.clientes)).scalar_one()
    ids = [r.cliente_id for r in rows]
    return dg.AssetCheckResult(
        passed=bool(rows) and len(ids) == len(set(ids)) == clients,
        metadata={"rows": len(rows), "distinct_clients": len(set(ids)), "clientes": int(clients)},
    )


@dg.asset_check(
    asset=EXPOSURE,
    description="Each client's stored available line equals its credit line minus its open "
    "(aprobada/desembolsada) operations.",
)
def linea_disponible_matches_open_operations(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        rows = _latest_slice(conn)
    wrong = [
        {
            "cliente_id": r.cliente_id,
            "rut": r.rut or r.rut_original,
            "linea_credito": r.linea_credito,
            "monto_cedido_vigente": r.monto_cedido_vigente,
            "linea_disponible": r.linea_disponible,
            "esperada": r.linea_disponible_esperada,
            "diferencia": Decimal(r.linea_disponible) - Decimal(r.linea_disponible_esperada),
        }
        for r in rows
        if Decimal(r.linea_disponible).quantize(pricing.CENT)
        != Decimal(r.linea_disponible_esperada).quantize(pricing.CENT)
    ]
    return dg.AssetCheckResult(
        passed=bool(rows) and not wrong,
        metadata={
            "clients": len(rows),
            "mismatched": len(wrong),
            "details": dg.MetadataValue.md(markdown_table(wrong, limit=30)),
        },
    )


@dg.asset_check(
    asset=EXPOSURE,
    description="Every RUT stored in operations (clients and invoice debtors) has a valid check digit.",
)
def ruts_are_valid(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    bad: list[dict[str, Any]] = []
    checked = 0
    with operations_db.connect() as conn:
        for r in conn.execute(sa.select(t.clientes.c.id, t.clientes.c.rut)):
            checked += 1
            if not rut.is_valid(r.rut):
                bad.append({"tabla": "clientes", "id": r.id, "rut": r.rut})
        debtors = conn.execution_options(stream_results=True, yield_per=10_000).execute(
            sa.select(t.facturas.c.rut_deudor, sa.func.min(t.facturas.c.id).label("ejemplo")).group_by(
                t.facturas.c.rut_deudor
            )
        )
        for r in debtors:
            checked += 1
            if not rut.is_valid(r.rut_deudor):
                bad.append({"tabla": "facturas.rut_deudor", "id": r.ejemplo, "rut": r.rut_deudor})
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "distinct_ruts_checked": checked,
            "invalid": len(bad),
            "details": dg.MetadataValue.md(markdown_table(bad, limit=30)),
        },
    )


@dg.asset_check(
    asset=EXPOSURE,
    description="Every operation's stored monto_descuento and monto_a_desembolsar equal the pricing formula "
    "(días to the latest due date, 360-day year, half-up cents), and its total equals its invoices.",
)
def operation_pricing_reconciles(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    o, of_, f = t.operaciones_cesion.c, t.operacion_facturas.c, t.facturas.c
    query = (
        sa.select(
            o.id,
            o.fecha_solicitud,
            o.monto_total_facturas,
            o.tasa_descuento,
            o.monto_descuento,
            o.monto_a_desembolsar,
            sa.func.max(f.fecha_vencimiento).label("ultimo_vencimiento"),
            sa.func.sum(f.monto_total).label("suma_facturas"),
        )
        .select_from(
            t.operaciones_cesion.join(t.operacion_facturas, of_.operacion_id == o.id, isouter=True).join(
                t.facturas, f.id == of_.factura_id, isouter=True
            )
        )
        .group_by(
            o.id,
            o.fecha_solicitud,
            o.monto_total_facturas,
            o.tasa_descuento,
            o.monto_descuento,
            o.monto_a_desembolsar,
        )
    )
    wrong: list[dict[str, Any]] = []
    checked = 0
    with operations_db.connect() as conn:
        for r in conn.execution_options(stream_results=True, yield_per=5000).execute(query):
            checked += 1
            problem = pricing.reconcile(
                monto_total=r.monto_total_facturas,
                tasa_descuento=r.tasa_descuento,
                fecha_operacion=r.fecha_solicitud,
                latest_due_date=r.ultimo_vencimiento,
                invoices_total=r.suma_facturas,
                stored_discount=r.monto_descuento,
                stored_payout=r.monto_a_desembolsar,
            )
            if problem:
                wrong.append({"operacion_id": r.id, "problema": problem})
    return dg.AssetCheckResult(
        passed=not wrong,
        metadata={
            "operations_checked": checked,
            "mismatched": len(wrong),
            "details": dg.MetadataValue.md(markdown_table(wrong, limit=30)),
        },
    )
