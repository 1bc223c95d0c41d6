"""Checks of the factoring family.

On ``warehouse/factoring_exposure``: the snapshot is whole, the lines add up, every stored RUT is valid
and every operation's stored pricing equals the formula (a reconciliation that catches a legacy procedure
pricing differently). A check run with a partition looks at that day's snapshot; run alone, at the
latest one. On ``operations/facturas_vencidas``: nothing overdue is left as of the batch's date (read from
its latest materialization), and every ``vencida`` invoice has its event.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

import dagster as dg
import sqlalchemy as sa

# The module, not its names: the defs loader collects every asset a module holds at its top level.
from cartera_pipelines.defs.factoring import assets, pricing, rut, sql
from cartera_pipelines.defs.factoring.partitions import day_of
from cartera_pipelines.lib.checks import rows_check
from cartera_pipelines.lib.dates import SANTIAGO, parse_date, today_in
from cartera_pipelines.resources.database import SqlDatabase


def _batch_day(context: dg.AssetCheckExecutionContext) -> dt.date:
    """The ``as_of`` of the batch's latest materialization (today in Chile if it never ran)."""
    event = context.instance.get_latest_materialization_event(assets.facturas_vencidas.key)
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("as_of") if materialization else None
    return parse_date(str(value.value), "as_of") if value else today_in(SANTIAGO)


@dg.asset_check(
    asset=assets.facturas_vencidas,
    description="After the batch, no invoice is left overdue as of the batch's Chile date.",
)
def no_overdue_invoice_left(
    context: dg.AssetCheckExecutionContext, operations_db: SqlDatabase
) -> dg.AssetCheckResult:
    as_of = _batch_day(context)
    with operations_db.connect() as conn:
        left = sql.overdue_left(conn, as_of)
    return dg.AssetCheckResult(passed=left == 0, metadata={"as_of": as_of.isoformat(), "still_overdue": left})


@dg.asset_check(
    asset=assets.facturas_vencidas,
    description="Every vencida invoice has its factura_eventos row (WARN: vencidas marked by other paths "
    "count too).",
)
def one_event_per_marked_invoice(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with operations_db.connect() as conn:
        orphans = sql.vencidas_without_event(conn)
    return dg.AssetCheckResult(
        passed=orphans == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"vencidas_without_event": orphans, "note": "vencidas marked by other paths count too"},
    )


def _snapshot(context: dg.AssetCheckExecutionContext, conn: sa.Connection) -> list[Any]:
    as_of = day_of(context.partition_key) if context.has_partition_key else None
    return sql.exposure_slice(conn, as_of)


@dg.asset_check(
    asset=assets.factoring_exposure, description="The snapshot has exactly one row per client in clientes."
)
def one_row_per_client(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase, operations_db: SqlDatabase
) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        rows = _snapshot(context, conn)
    with operations_db.connect() as conn:
        clients = sql.count_clients(conn)
    ids = [r.cliente_id for r in rows]
    return dg.AssetCheckResult(
        passed=bool(rows) and len(ids) == len(set(ids)) == clients,
        metadata={"rows": len(rows), "distinct_clients": len(set(ids)), "clientes": clients},
    )


@dg.asset_check(
    asset=assets.factoring_exposure,
    description="Each client's stored available line equals its credit line minus the face value of its "
    "open (aprobada/desembolsada) operations.",
)
def linea_disponible_matches_open_operations(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        rows = _snapshot(context, conn)
    wrong = [
        {
            "cliente_id": r.cliente_id,
            "rut": r.rut or r.rut_original,
            "linea_credito": r.linea_credito,
            "operaciones_abiertas": r.monto_operaciones_abiertas,
            "linea_disponible": r.linea_disponible,
            "esperada": r.linea_disponible_esperada,
            "diferencia": Decimal(r.linea_disponible) - Decimal(r.linea_disponible_esperada),
        }
        for r in rows
        if Decimal(r.linea_disponible).quantize(pricing.CENT)
        != Decimal(r.linea_disponible_esperada).quantize(pricing.CENT)
    ]
    if not rows:
        return dg.AssetCheckResult(passed=False, description="no exposure snapshot", metadata={"clients": 0})
    return rows_check(wrong, "clients whose available line is off", metadata={"clients": len(rows)})


@dg.asset_check(
    asset=assets.factoring_exposure,
    description="Every RUT stored in operations (clients and invoice debtors) has a valid check digit.",
)
def ruts_are_valid(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    bad: list[dict[str, Any]] = []
    checked = 0
    with operations_db.connect() as conn:
        for table, pairs in (
            ("clientes", sql.client_ruts(conn)),
            ("facturas.rut_deudor", sql.debtor_ruts(conn)),
        ):
            for row_id, written in pairs:
                checked += 1
                if not rut.is_valid(written):
                    bad.append({"tabla": table, "id": row_id, "rut": written})
    return rows_check(bad, "invalid RUTs", metadata={"distinct_ruts_checked": checked})


@dg.asset_check(
    asset=assets.factoring_exposure,
    description="Every operation's stored monto_descuento and monto_a_desembolsar equal the pricing formula "
    "(días to the latest due date, 360-day year, half-up cents), and its total equals its invoices.",
)
def operation_pricing_reconciles(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    wrong: list[dict[str, Any]] = []
    checked = 0
    with operations_db.connect() as conn:
        for stored in sql.operations_with_invoices(conn):
            checked += 1
            if isinstance(stored, str):  # a value the check could not read is a problem of its own
                wrong.append({"operacion_id": None, "problema": stored})
                continue
            problem = pricing.reconcile(
                monto_total=stored.monto_total_facturas,
                tasa_descuento=stored.tasa_descuento,
                fecha_operacion=stored.fecha_solicitud,
                latest_due_date=stored.ultimo_vencimiento,
                invoices_total=stored.suma_facturas,
                stored_discount=stored.monto_descuento,
                stored_payout=stored.monto_a_desembolsar,
            )
            if problem:
                wrong.append({"operacion_id": stored.id, "problema": problem})
    return rows_check(wrong, "operations priced off the formula", metadata={"operations_checked": checked})
