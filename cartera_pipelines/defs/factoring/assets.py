"""factoring assets: the daily overdue batch, the exposure snapshot per Chile day and the outbox deliveries.

Group and owners come from ``defs.yaml``; the rules live in ``sql.py`` (the batch, the reads and writes),
``exposure.py`` (the aggregation) and ``delivery.py`` (the delivery loop).
"""

import dagster as dg

from cartera_pipelines.defs.factoring import exposure, sql, tables
from cartera_pipelines.defs.factoring.config import OutboxConfig, OverdueConfig
from cartera_pipelines.defs.factoring.delivery import deliver_pending, pending_summary
from cartera_pipelines.defs.factoring.partitions import after_parents_latest_day, chile_days, day_of
from cartera_pipelines.defs.factoring.plots import try_exposure_chart
from cartera_pipelines.lib.dates import SANTIAGO, parse_as_of, utcnow
from cartera_pipelines.lib.metadata import markdown_table, preview, table_metadata
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import WebhookSender

# What the cession API writes and we only read (or, for facturas, only change the state of).
facturas_source = dg.AssetSpec(
    ["operations", "facturas"],
    kinds={"postgres"},
    description="Invoices offered for cession, written by the factoring API (operations store).",
)
clientes_source = dg.AssetSpec(
    ["operations", "clientes"],
    kinds={"postgres"},
    description="Factoring clients with their credit lines, written by the factoring API.",
)
operaciones_source = dg.AssetSpec(
    ["operations", "operaciones_cesion"],
    kinds={"postgres"},
    description="Cession operations (and operacion_facturas links) with their stored pricing.",
)
outbox_source = dg.AssetSpec(
    ["operations", "outbox_events"],
    kinds={"postgres"},
    description="Events the factoring API queued for notification (transactional outbox).",
)


@dg.asset(
    key=["operations", "facturas_vencidas"],
    kinds={"postgres", "python"},
    pool="operations_db",
    deps=[facturas_source],
    metadata=table_metadata(tables.factura_eventos),
)
def facturas_vencidas(
    context: dg.AssetExecutionContext, config: OverdueConfig, operations_db: SqlDatabase
) -> dg.MaterializeResult:
    """Daily batch: invoices whose due date is before ``as_of`` (Chile's date) and that are not
    cedida, pagada, anulada or already vencida become ``vencida``, each with a ``factura_eventos`` row.

    Set-based: one aggregate, one INSERT … SELECT of the events and one UPDATE, in one transaction
    (PostgreSQL takes a SHARE ROW EXCLUSIVE lock on ``facturas`` so the three statements see the same
    rows while readers carry on). Running it again for the same date changes nothing.
    """
    as_of = parse_as_of(config.as_of, SANTIAGO)
    with operations_db.begin() as conn:
        batch = sql.mark_overdue(conn, as_of, run_id=context.run.run_id, now=utcnow())
    context.log.info(
        f"as_of {as_of}: {batch.marked:,} invoices marked vencida for {len(batch.per_client)} clients"
    )
    per_client = [vars(client) for client in batch.per_client]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": batch.marked,
            "as_of": as_of.isoformat(),
            "facturas_marcadas": batch.marked,
            "clientes_afectados": len(batch.per_client),
            # money stays exact: shown as text to the cent, never as a float
            "monto_marcado": f"{batch.amount:,}",
            "por_cliente": dg.MetadataValue.md(markdown_table(per_client, limit=50)),
        }
    )


@dg.asset(
    key=["warehouse", "factoring_exposure"],
    kinds={"postgres", "python"},
    pool="operations_db",
    deps=[clientes_source, operaciones_source, facturas_vencidas],
    partitions_def=chile_days,
    automation_condition=after_parents_latest_day,
    metadata=table_metadata(tables.factoring_exposure),
)
def factoring_exposure(
    context: dg.AssetExecutionContext, operations_db: SqlDatabase, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Credit exposure per client on a Chile day (the partition): credit line, available line (stored, and
    line minus the open operations' face value), outstanding ceded amount (unpaid invoices of aprobada/
    desembolsada operations), utilisation, the debtor who owes most and their share, overdue ceded invoices.
    The day's slice is replaced in one transaction; unreadable source records are left out, one line each.
    """
    as_of = day_of(context.partition_key)
    unreadable: list[str] = []  # one line per record of the API's tables that could not be read
    with operations_db.connect() as conn:
        clients, operations = sql.read_clients(conn, unreadable), sql.read_open_operations(conn, unreadable)
        invoices = sql.stream_ceded_invoices(conn, unreadable)
        rows = exposure.compute_exposure(clients, operations, invoices, as_of)
    computed_at = utcnow()
    for row in rows:
        row["computed_at"] = computed_at
    ensure_schema(warehouse_db)
    with warehouse_db.begin() as conn:
        sql.write_exposure(conn, as_of, rows)
    for line in unreadable:
        context.log.warning(f"left out of the snapshot: {line}")
    summary = exposure.portfolio_summary(rows)
    context.log.info(
        f"exposure as of {as_of}: {len(rows)} clients, {summary['monto_cedido_vigente_total']:,.2f}"
    )
    chart, chart_problem = try_exposure_chart(rows)
    if chart_problem:
        context.log.warning(chart_problem)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "as_of": as_of.isoformat(),
            **summary,
            "registros_ilegibles": len(unreadable),
            "ilegibles": dg.MetadataValue.md("\n".join(f"- {line}" for line in unreadable[:50]) or "_none_"),
            "preview": preview(exposure.largest_first(rows), exposure.PREVIEW_COLUMNS, limit=15),
            **({"exposure_chart": dg.MetadataValue.md(chart)} if chart else {}),
        }
    )


@dg.asset(
    key=["operations", "outbox_deliveries"],
    kinds={"postgres", "python"},
    pool="operations_db",
    deps=[outbox_source],
    metadata=table_metadata(tables.outbox_events),
)
def outbox_deliveries(
    context: dg.AssetExecutionContext,
    config: OutboxConfig,
    operations_db: SqlDatabase,
    webhooks: WebhookSender,
) -> dg.MaterializeResult:
    """Delivers pending ``outbox_events`` as signed webhooks (HMAC-SHA256 ``X-Cartera-Signature``,
    ``Idempotency-Key``), at least once: ``delivered_at`` is committed in small batches right after the
    2xx; failures keep ``last_error`` and back off; after ``max_attempts`` requests an event is parked.
    With no endpoint configured nothing is sent and every event stays pending.
    """
    if not webhooks.configured:
        count = pending_summary(operations_db)[0]
        context.log.warning(
            f"no webhook endpoint configured (CARTERA_WEBHOOK_URLS); {count} events stay pending"
        )
        status = {"status": "no endpoint configured", "pending": count, "delivered": 0}
        return dg.MaterializeResult(metadata={**status, "dagster/row_count": 0})
    if not webhooks.secret:
        raise dg.Failure(
            "CARTERA_WEBHOOK_SECRET is not set: outbox webhooks must be signed; nothing was sent"
        )
    stats = deliver_pending(
        operations_db,
        webhooks,
        commit_every=config.commit_every,
        page_size=config.page_size,
        limit=config.limit,
        respect_backoff=config.respect_backoff,
        log=context.log.info,
    )
    with operations_db.connect() as conn:
        parked_total = sql.parked_total(conn)
    return dg.MaterializeResult(
        metadata={
            **stats.summary(),
            "parked_total": parked_total,
            "pending_after_run": pending_summary(operations_db)[0],
            "endpoints": len(webhooks.urls),
            "errors": dg.MetadataValue.md(stats.errors_table()),
        }
    )
