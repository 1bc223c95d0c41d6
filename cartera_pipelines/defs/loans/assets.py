"""Assets of the loans family: ``operations/prestamos`` (the lender's loans) and ``operations/cuotas``."""

import datetime as dt
from typing import Any

import dagster as dg

from cartera_pipelines.defs.loans import sql
from cartera_pipelines.defs.loans.config import CuotasConfig
from cartera_pipelines.defs.loans.generation import (
    MAX_REPORTED,
    GenerationReport,
    LoanRequestError,
    generate_schedules,
    regenerate_loan,
)
from cartera_pipelines.defs.loans.planning import Action
from cartera_pipelines.defs.loans.sql import SourceError
from cartera_pipelines.defs.loans.tables import cuotas, prestamos
from cartera_pipelines.lib.metadata import markdown_table, preview_query, table_metadata
from cartera_pipelines.resources.database import SqlDatabase

LAST_APPROVED_ID = "last_approved_id"
"""Metadata of ``operations/cuotas``: the highest approved loan id the run covered (the sensor's start)."""
PROBLEM_WIDTH = 400
"""Characters of a loan's problems shown in the metadata tables (the default preview cuts at 60)."""
_COUNTS = ("schedules_created", "schedules_regenerated", "invalid_loans", "loans_blocked_by_payments")

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
    def table(action: Action) -> dg.MarkdownMetadataValue:
        return dg.MetadataValue.md(
            markdown_table(report.rows(action), limit=MAX_REPORTED, width=PROBLEM_WIDTH)
        )

    covered = {} if report.last_approved_id is None else {LAST_APPROVED_ID: report.last_approved_id}
    return {
        "as_of": dg.MetadataValue.text(as_of.isoformat()),
        "approved_loans": report.approved,
        **covered,
        "schedules_created": report.count(Action.CREATE),
        "schedules_regenerated": report.count(Action.REGENERATE),
        "installments_written": report.installments_written,
        "installments_deleted": report.installments_deleted,
        "invalid_loans": report.count(Action.INVALID),
        "loans_blocked_by_payments": report.count(Action.BLOCKED),
        "regenerated_loans_table": table(Action.REGENERATE),
        "invalid_loans_table": table(Action.INVALID),
        "blocked_loans_table": table(Action.BLOCKED),
    }


def _generate(config: CuotasConfig, db: SqlDatabase, as_of: dt.date, log: Any) -> GenerationReport:
    try:
        if config.prestamo_id is not None:
            return regenerate_loan(db, config.prestamo_id, as_of)
        return generate_schedules(db, as_of, config.batch_size, log.info)
    except (SourceError, LoanRequestError) as exc:  # one line: which table, column or loan, and why
        raise dg.Failure(description=str(exc)) from None


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

    Each approved loan's stored schedule is reconciled with the engine's for its terms: none → created;
    different (count, due dates or amounts) with nothing paid → regenerated, and the difference listed;
    different with payments → never touched, listed. Invalid terms, and schedules whose amounts do not
    fit the ``cuotas`` columns, are listed per loan without stopping the batch. Batches of loans commit
    one transaction each; a re-run writes nothing. Then every installment's ``estado`` (PAGADO, PARCIAL,
    ATRASADO, PENDIENTE) is refreshed against ``as_of`` in one set-based UPDATE (the daily sweep runs this
    same asset with the day's date). Run config ``prestamo_id`` rebuilds one loan on request.
    """
    as_of = config.as_of_date()
    context.log.info(f"generating schedules in batches of {config.batch_size:,} loans; status as of {as_of}")
    report = _generate(config, operations_db, as_of, context.log)
    with operations_db.begin() as conn:
        status_updated = sql.refresh_status(conn, as_of, config.prestamo_id)
    with operations_db.connect() as conn:
        total, by_status = sql.cuotas_count(conn), sql.status_counts(conn)
        sample = preview_query(conn, sql.cuotas_preview())
    metadata = _report_metadata(report, as_of)
    context.log.info(
        ", ".join(f"{key} {metadata[key]:,}" for key in _COUNTS) + f"; {status_updated:,} statuses refreshed"
    )
    if report.count(Action.INVALID) or report.count(Action.BLOCKED):
        context.log.warning(
            f"{report.count(Action.INVALID)} loans with invalid terms or amounts and {report.count(Action.BLOCKED)} "
            "loans with payments whose schedule differs were not scheduled (see the metadata tables)"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "preview": sample,
            **metadata,
            "status_refreshed": status_updated,
            "status_counts": dg.MetadataValue.json(dict(sorted(by_status.items()))),
        }
    )
