"""Assets of the loans family: ``operations/prestamos`` (the lender's loans) and ``operations/cuotas``."""

import datetime as dt
from typing import Any

import dagster as dg

from cartera_pipelines.defs.loans import sql
from cartera_pipelines.defs.loans.config import CuotasConfig
from cartera_pipelines.defs.loans.generation import GenerationReport, first_rows, generate_schedules
from cartera_pipelines.defs.loans.tables import cuotas, prestamos
from cartera_pipelines.lib.metadata import markdown_table, preview_query, table_metadata
from cartera_pipelines.resources.database import SqlDatabase

LAST_APPROVED_ID = "last_approved_id"
"""Metadata of ``operations/cuotas``: the highest approved loan id the run covered (the sensor's start)."""

prestamos_source = dg.AssetSpec(
    key=["operations", "prestamos"],
    description=(
        "Loans in the lender's operations store (read-only for us). Approved loans (estado APROBADO) "
        "get an amortization schedule in operations/cuotas."
    ),
    kinds={"postgres"},
    metadata=table_metadata(prestamos),
)


def _report_metadata(report: GenerationReport, as_of: dt.date) -> dict[str, Any]:
    return {
        "as_of": dg.MetadataValue.text(as_of.isoformat()),
        "approved_loans": report.approved,
        LAST_APPROVED_ID: report.last_approved_id,
        "schedules_created": report.created,
        "schedules_regenerated": report.regenerated,
        "installments_written": report.installments_written,
        "installments_deleted": report.installments_deleted,
        "invalid_loans": report.invalid_total,
        "loans_blocked_by_payments": report.blocked_total,
        "invalid_loans_table": dg.MetadataValue.md(markdown_table(first_rows(report.invalid), limit=200)),
        "blocked_loans_table": dg.MetadataValue.md(markdown_table(first_rows(report.blocked), limit=200)),
    }


@dg.asset(
    key=["operations", "cuotas"],
    deps=[prestamos_source],
    kinds={"postgres", "python"},
    pool="operations_db",
    metadata=table_metadata(cuotas),
    tags={"domain": "loans"},
)
def operations_cuotas(
    context: dg.AssetExecutionContext, config: CuotasConfig, operations_db: SqlDatabase
) -> dg.MaterializeResult:
    """Amortization schedules (one row per installment) for every APROBADO loan in operations/prestamos.

    Generates the schedule of each approved loan that has none, or has the wrong number of installments
    and nothing paid (the old one is replaced). A loan with payments is never regenerated, and a loan
    with invalid terms is skipped: both are listed in this materialization's metadata and fail checks,
    without stopping the batch. Batches of loans commit one transaction each; a re-run writes nothing.
    Then every installment's ``estado`` (PAGADO, PARCIAL, ATRASADO, PENDIENTE) is refreshed against
    ``as_of`` in one set-based UPDATE (the daily sweep runs this same asset with the day's date).
    """
    as_of = config.as_of_date()
    context.log.info(f"generating schedules in batches of {config.batch_size:,} loans; status as of {as_of}")
    report = generate_schedules(operations_db, as_of, config.batch_size, context.log.info)
    with operations_db.begin() as conn:
        status_updated = sql.refresh_status(conn, as_of)
    with operations_db.connect() as conn:
        total, by_status = sql.cuotas_count(conn), sql.status_counts(conn)
        sample = preview_query(conn, sql.cuotas_in_order())
    context.log.info(
        f"{report.created:,} schedules created, {report.regenerated:,} regenerated, {report.invalid_total:,} "
        f"invalid, {report.blocked_total:,} blocked by payments; {status_updated:,} statuses refreshed"
    )
    if report.invalid_total or report.blocked_total:
        context.log.warning(
            f"{report.invalid_total} loans with invalid terms and {report.blocked_total} loans with payments "
            "and a wrong installment count were not scheduled (see the metadata tables)"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "preview": sample,
            **_report_metadata(report, as_of),
            "status_refreshed": status_updated,
            "status_counts": dg.MetadataValue.json(dict(sorted(by_status.items()))),
        }
    )
