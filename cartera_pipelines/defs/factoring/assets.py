"""factoring assets: the daily overdue batch, the exposure snapshot and the outbox deliveries."""

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from cartera_pipelines.defs.factoring import tables as t
from cartera_pipelines.defs.factoring.delivery import deliver_pending, pending_summary
from cartera_pipelines.defs.factoring.exposure import CededInvoice, ClientLine, compute_exposure
from cartera_pipelines.defs.factoring.overdue import NOT_MARKED, OPEN_OPERATIONS, resolve_as_of
from cartera_pipelines.lib.bulk import insert_rows
from cartera_pipelines.lib.metadata import markdown_table, preview, table_metadata
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import WebhookSender

GROUP = "factoring"
OWNERS = ["team:factoring"]

# What the cession API writes and we only read (or, for facturas, only change the state of).
facturas_source = dg.AssetSpec(
    ["operations", "facturas"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres"},
    description="Invoices offered for cession, written by the factoring API (operations store).",
)
clientes_source = dg.AssetSpec(
    ["operations", "clientes"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres"},
    description="Factoring clients with their credit lines, written by the factoring API.",
)
operaciones_source = dg.AssetSpec(
    ["operations", "operaciones_cesion"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres"},
    description="Cession operations (and operacion_facturas links) with their stored pricing.",
)
outbox_source = dg.AssetSpec(
    ["operations", "outbox_events"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres"},
    description="Events the factoring API queued for notification (transactional outbox).",
)


class AsOfConfig(dg.Config):
    as_of: str = Field(default="", description="Chile date YYYY-MM-DD; empty = today in America/Santiago")


def _overdue(as_of: dt.date) -> sa.ColumnElement[bool]:
    f = t.facturas.c
    return sa.and_(f.fecha_vencimiento < as_of, f.estado.notin_(NOT_MARKED))


@dg.asset(
    key=["operations", "facturas_vencidas"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "python"},
    pool="operations_db",
    deps=[facturas_source.key],
    metadata=table_metadata(t.factura_eventos),
    check_specs=[
        dg.AssetCheckSpec("no_overdue_invoice_left", asset=["operations", "facturas_vencidas"]),
        dg.AssetCheckSpec("one_event_per_marked_invoice", asset=["operations", "facturas_vencidas"]),
    ],
)
def facturas_vencidas(
    context: dg.AssetExecutionContext, config: AsOfConfig, operations_db: SqlDatabase
) -> Any:
    """Daily batch: invoices whose due date is before ``as_of`` (Chile's date) and that are not
    cedida, pagada, anulada or already vencida become ``vencida``, each with a ``factura_eventos`` row.

    Set-based: one aggregate, one INSERT … SELECT of the events and one UPDATE, in one transaction
    (PostgreSQL takes a SHARE ROW EXCLUSIVE lock on ``facturas`` so the three statements see the same
    rows while readers carry on). Running it again for the same date changes nothing.
    """
    as_of = resolve_as_of(config.as_of)
    now = dt.datetime.now(dt.UTC)
    f, e = t.facturas.c, t.factura_eventos
    predicate = _overdue(as_of)
    with operations_db.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("LOCK TABLE facturas IN SHARE ROW EXCLUSIVE MODE"))
        per_client = conn.execute(
            sa.select(
                f.cliente_id, sa.func.count().label("facturas"), sa.func.sum(f.monto_total).label("monto")
            )
            .where(predicate)
            .group_by(f.cliente_id)
        ).all()
        events = conn.execute(
            sa.insert(e).from_select(
                [
                    "factura_id",
                    "cliente_id",
                    "tipo",
                    "estado_anterior",
                    "estado_nuevo",
                    "fecha_referencia",
                    "origen",
                    "run_id",
                    "created_at",
                ],
                sa.select(
                    f.id,
                    f.cliente_id,
                    sa.literal("vencida", sa.String),
                    f.estado,
                    sa.literal("vencida", sa.String),
                    sa.literal(as_of, sa.Date),
                    sa.literal("facturas_vencidas", sa.String),
                    sa.literal(context.run.run_id, sa.String),
                    sa.literal(now, t.Stamp),
                ).where(predicate),
            )
        ).rowcount
        marked = conn.execute(
            sa.update(t.facturas).where(predicate).values(estado="vencida", updated_at=now)
        ).rowcount
        if events != marked:  # cannot happen under the lock; refuse to commit a mismatch if it does
            raise RuntimeError(f"wrote {events} events for {marked} invoices marked vencida; rolled back")
        names = dict(
            conn.execute(
                sa.select(t.clientes.c.id, t.clientes.c.razon_social).where(
                    t.clientes.c.id.in_([r.cliente_id for r in per_client] or [-1])
                )
            ).all()
        )
    with operations_db.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(t.facturas).where(predicate)).scalar_one()
        orphans = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.facturas)
            .where(f.estado == "vencida", ~sa.exists().where(e.c.factura_id == f.id))
        ).scalar_one()
    rows = sorted(
        (
            {
                "cliente_id": r.cliente_id,
                "razon_social": names.get(r.cliente_id, "?"),
                "facturas": int(r.facturas),
                "monto": Decimal(r.monto or 0).quantize(Decimal("0.01")),
            }
            for r in per_client
        ),
        key=lambda r: (-r["facturas"], r["cliente_id"]),
    )
    context.log.info(f"as_of {as_of}: {marked:,} invoices marked vencida for {len(rows)} clients")
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": marked,
            "as_of": as_of.isoformat(),
            "facturas_marcadas": marked,
            "clientes_afectados": len(rows),
            # money stays exact: shown as text to the cent, never as a float
            "monto_marcado": f"{sum((r['monto'] for r in rows), Decimal(0)).quantize(Decimal('0.01')):,}",
            "por_cliente": dg.MetadataValue.md(markdown_table(rows, limit=50)),
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_overdue_invoice_left",
        passed=left == 0,
        metadata={"as_of": as_of.isoformat(), "still_overdue": int(left)},
    )
    yield dg.AssetCheckResult(
        check_name="one_event_per_marked_invoice",
        passed=orphans == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"vencidas_without_event": int(orphans), "note": "vencidas marked by other paths count too"},
    )


@dg.asset(
    key=["warehouse", "factoring_exposure"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "python"},
    pool="operations_db",
    deps=[clientes_source.key, operaciones_source.key, ["operations", "facturas_vencidas"]],
    metadata=table_metadata(t.factoring_exposure),
)
def factoring_exposure(
    context: dg.AssetExecutionContext,
    config: AsOfConfig,
    operations_db: SqlDatabase,
    warehouse_db: SqlDatabase,
) -> dg.MaterializeResult:
    """Credit exposure per client as of a Chile date: credit line, available line (stored and
    expected), outstanding ceded amount of open (aprobada/desembolsada) operations, utilisation,
    largest single-debtor share (RUTs normalised), overdue ceded invoices. The ``as_of`` slice is
    replaced in one transaction; earlier dates stay as history.
    """
    as_of = resolve_as_of(config.as_of)
    c, o, of_, f = t.clientes.c, t.operaciones_cesion.c, t.operacion_facturas.c, t.facturas.c
    with operations_db.connect() as conn:
        clients = [
            ClientLine(r.id, r.rut, r.razon_social, r.estado, r.linea_credito, r.linea_disponible)
            for r in conn.execute(
                sa.select(c.id, c.rut, c.razon_social, c.estado, c.linea_credito, c.linea_disponible)
            )
        ]
        open_ops = [
            (r.cliente_id, r.monto_total_facturas)
            for r in conn.execute(
                sa.select(o.cliente_id, o.monto_total_facturas).where(o.estado.in_(OPEN_OPERATIONS))
            )
        ]
        ceded_query = (
            sa.select(o.cliente_id, f.rut_deudor, f.monto_total, f.fecha_vencimiento, f.estado)
            .select_from(
                t.operaciones_cesion.join(t.operacion_facturas, of_.operacion_id == o.id).join(
                    t.facturas, f.id == of_.factura_id
                )
            )
            .where(o.estado.in_(OPEN_OPERATIONS))
        )
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(ceded_query)
        ceded = (
            CededInvoice(r.cliente_id, r.rut_deudor, r.monto_total, r.fecha_vencimiento, r.estado)
            for r in result
        )
        rows = compute_exposure(clients, open_ops, ceded, as_of)
    computed_at = dt.datetime.now(dt.UTC)
    for row in rows:
        row["computed_at"] = computed_at
    with warehouse_db.begin() as conn:
        ensure_schema(warehouse_db)
        conn.execute(sa.delete(t.factoring_exposure).where(t.factoring_exposure.c.as_of == as_of))
        insert_rows(conn, t.factoring_exposure, rows)

    line = sum((r["linea_credito"] for r in rows), Decimal(0))
    outstanding = sum((r["monto_cedido_vigente"] for r in rows), Decimal(0))
    mismatched = sum(1 for r in rows if r["linea_disponible"] != r["linea_disponible_esperada"])
    high = [r for r in rows if r["utilizacion"] is not None and r["utilizacion"] >= Decimal("0.9")]
    context.log.info(f"exposure as of {as_of}: {len(rows)} clients, {outstanding:,} outstanding")
    metadata: dict[str, Any] = {
        "dagster/row_count": len(rows),
        "as_of": as_of.isoformat(),
        "linea_credito_total": float(line),
        "monto_cedido_vigente_total": float(outstanding),
        "utilizacion_cartera": float((outstanding / line).quantize(Decimal("0.0001"))) if line else 0.0,
        "clientes_sobre_90pct": len(high),
        "clientes_linea_descuadrada": mismatched,
        "facturas_cedidas_vencidas": sum(int(r["facturas_cedidas_vencidas"]) for r in rows),
        "preview": preview(
            sorted(rows, key=lambda r: r["monto_cedido_vigente"], reverse=True),
            [
                "cliente_id",
                "rut",
                "razon_social",
                "linea_credito",
                "linea_disponible",
                "monto_cedido_vigente",
                "utilizacion",
                "concentracion_deudor_principal",
                "facturas_cedidas_vencidas",
            ],
            limit=15,
        ),
    }
    try:
        from cartera_pipelines.defs.factoring.plots import exposure_chart_markdown

        metadata["exposure_chart"] = dg.MetadataValue.md(exposure_chart_markdown(rows))
    except Exception as exc:  # a chart is a nicety: never fail the snapshot for it
        context.log.warning(f"exposure chart not drawn: {exc}")
    return dg.MaterializeResult(metadata=metadata)


class OutboxConfig(dg.Config):
    commit_every: int = Field(default=50, description="Commit delivery marks every N results")
    page_size: int = Field(default=500, description="Events read per query")
    limit: int = Field(default=0, description="Deliver at most N events this run (0 = all pending)")
    respect_backoff: bool = Field(
        default=True, description="Skip events whose next_attempt_at is in the future"
    )


@dg.asset(
    key=["operations", "outbox_deliveries"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "python"},
    pool="operations_db",
    deps=[outbox_source.key],
    metadata=table_metadata(t.outbox_events),
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
        count, _max_id, _ = pending_summary(operations_db)
        context.log.warning(
            f"no webhook endpoint configured (CARTERA_WEBHOOK_URLS); {count} events stay pending"
        )
        return dg.MaterializeResult(
            metadata={
                "status": "no endpoint configured",
                "pending": count,
                "delivered": 0,
                "dagster/row_count": 0,
            }
        )
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
        parked_total = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.outbox_events)
            .where(t.outbox_events.c.parked_at.is_not(None))
        ).scalar_one()
    remaining, _, _ = pending_summary(operations_db)
    latency = stats.percentiles(stats.latencies, scale=1000)
    lag = stats.percentiles(stats.lags)
    errors = Counter(e.split(":")[0] for e in stats.last_errors.values())
    context.log.info(
        f"outbox: {stats.delivered:,} delivered, {stats.retried:,} retried, {stats.failed:,} failed, "
        f"{stats.parked:,} parked in {stats.elapsed_seconds:.1f}s"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats.delivered,
            "delivered": stats.delivered,
            "retried": stats.retried,
            "failed": stats.failed,
            "parked": stats.parked,
            "parked_total": int(parked_total),
            "pending_after_run": remaining,
            "http_requests": stats.requests,
            "endpoints": len(webhooks.urls),
            "elapsed_seconds": round(stats.elapsed_seconds, 3),
            "events_per_second": (
                round(stats.delivered / stats.elapsed_seconds, 1) if stats.elapsed_seconds else 0.0
            ),
            **{f"latency_ms_{k}": round(v, 1) for k, v in latency.items()},
            **{f"lag_seconds_{k}": round(v, 1) for k, v in lag.items()},
            "errors": dg.MetadataValue.md(
                markdown_table([{"error": k, "events": v} for k, v in errors.items()])
            ),
        }
    )
