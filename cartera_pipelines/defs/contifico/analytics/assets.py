"""Assets of the contifico inventory analytics: daily snapshots (Ecuador's date) on the synced tables.

Thin: each asset runs its measure's set-based SQL (``sql.py``) into its partition's slice, in one
transaction, and describes the result. Group and owners come from the family's ``defs.yaml``.
"""

import datetime as dt

import dagster as dg

from cartera_pipelines.defs.contifico.analytics import reorder, report, sql, tables
from cartera_pipelines.defs.contifico.analytics.automation import after_sync_latest_day
from cartera_pipelines.defs.contifico.analytics.config import LeadTimeConfig, ReorderConfig
from cartera_pipelines.defs.contifico.analytics.partitions import day_of, ecuador_days
from cartera_pipelines.lib.dates import utcnow
from cartera_pipelines.lib.metadata import markdown_table, preview, table_metadata
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources import CarteraPaths, SqlDatabase

KINDS = {"postgres", "sql"}


def _synced(name: str) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", f"contifico_{name}"])


def _snapshot(**kwargs) -> dict:
    """What every analytics asset shares: daily partitions, pool, automation, kinds."""
    return {
        "partitions_def": ecuador_days,
        "pool": "warehouse_db",
        "automation_condition": after_sync_latest_day,
        "kinds": KINDS,
        **kwargs,
    }


def _write(db: SqlDatabase, writer, as_of: dt.date, **options) -> tuple[int, dt.datetime]:
    """Run one measure's INSERT … SELECT into its slice (one transaction)."""
    ensure_schema(db)
    computed_at = utcnow()
    with db.begin() as conn:
        return writer(conn, as_of, computed_at, **options), computed_at


def _result(
    db: SqlDatabase, table, as_of: dt.date, count: int, columns: list[str], **facts
) -> dg.MaterializeResult:
    with db.connect() as conn:
        sample = sql.read_slice(conn, table, as_of)[:10]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            "as_of": as_of.isoformat(),
            **facts,
            "preview": preview(sample, columns),
        }
    )


def _report(context, paths: CarteraPaths, rows: list, names: dict, as_of: dt.date, top: int) -> dict:
    """Write the Excel report and draw the at-risk plot; their metadata (a chart never fails the asset)."""
    path = paths.reports_dir / "contifico" / f"reorder_suggestions_{as_of.isoformat()}.xlsx"
    sheets = report.write_workbook(path, rows, names, as_of.isoformat())
    most_urgent = reorder.at_risk(rows, tables.ALL_WAREHOUSES, top)
    chart, problem = report.try_at_risk_chart(most_urgent)
    if problem:
        context.log.warning(problem)
    columns = [
        "urgency_rank",
        "product_id",
        "stock",
        "days_to_stockout",
        "lead_time_days",
        "suggested_quantity",
    ]
    return {
        "report": dg.MetadataValue.path(str(path)),
        "sheets": dg.MetadataValue.md(markdown_table([{"sheet": k, "rows": v} for k, v in sheets.items()])),
        "most_urgent": preview(most_urgent, columns),
        **({"at_risk_chart": dg.MetadataValue.md(chart)} if chart else {}),
    }


@dg.asset(
    key=["warehouse", "contifico_sales_velocity"],
    deps=[_synced("sales"), _synced("inventory_movements")],
    metadata=table_metadata(tables.sales_velocity),
    **_snapshot(),
)
def contifico_sales_velocity(
    context: dg.AssetExecutionContext, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Units sold per day over the 30 and 90 days up to the partition's date (Ecuador), from the sales
    document lines net of credit notes (NCT), per product (``*``) and per warehouse (the product's sales
    spread by its exits per warehouse; ``-`` when it has none), with the trend between the two windows."""
    as_of = day_of(context.partition_key)
    count, _ = _write(warehouse_db, sql.write_sales_velocity, as_of)
    with warehouse_db.connect() as conn:
        sums = sql.totals(conn, tables.sales_velocity, as_of, "velocity_90")
    context.log.info(f"sales velocity as of {as_of}: {count:,} rows")
    columns = ["product_id", "warehouse_id", "units_30", "units_90", "velocity_90", "trend"]
    return _result(
        warehouse_db, tables.sales_velocity, as_of, count, columns, units_per_day_90=str(sums["velocity_90"])
    )


@dg.asset(
    key=["warehouse", "contifico_stock_position"],
    deps=[_synced("products"), _synced("inventory_movements"), contifico_sales_velocity],
    metadata=table_metadata(tables.stock_position),
    **_snapshot(),
)
def contifico_stock_position(
    context: dg.AssetExecutionContext, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Stock on hand per product and warehouse on the partition's date: from the movement ledger (ING −
    EGR) where the product has one, else the product's ``cantidad_stock`` (``stock_source`` says which);
    its value at cost, days of coverage (stock ÷ 90-day velocity), below ``minimo``, dead stock."""
    as_of = day_of(context.partition_key)
    count, _ = _write(warehouse_db, sql.write_stock_position, as_of)
    with warehouse_db.connect() as conn:
        facts = sql.position_facts(conn, as_of)
    columns = ["product_id", "warehouse_id", "stock_source", "stock", "stock_value", "days_coverage"]
    return _result(warehouse_db, tables.stock_position, as_of, count, columns, **facts)


@dg.asset(
    key=["warehouse", "contifico_turnover"],
    deps=[_synced("sales"), _synced("purchases"), contifico_stock_position],
    metadata=table_metadata(tables.turnover),
    **_snapshot(),
)
def contifico_turnover(context: dg.AssetExecutionContext, warehouse_db: SqlDatabase) -> dg.MaterializeResult:
    """Inventory turnover over the 12 months up to the partition's date, per product and per category:
    cost of goods sold (net units sold × cost) ÷ average inventory value at cost (opening and closing)."""
    as_of = day_of(context.partition_key)
    count, _ = _write(warehouse_db, sql.write_turnover, as_of)
    with warehouse_db.connect() as conn:
        sums = sql.totals(conn, tables.turnover, as_of, "cogs")
    columns = ["scope", "scope_id", "cogs", "average_inventory_value", "turnover"]
    return _result(warehouse_db, tables.turnover, as_of, count, columns, cogs_all_rows=str(sums["cogs"]))


@dg.asset(
    key=["warehouse", "contifico_supplier_lead_times"],
    deps=[_synced("purchases"), _synced("inventory_movements")],
    metadata=table_metadata(tables.supplier_lead_times),
    **_snapshot(),
)
def contifico_supplier_lead_times(
    context: dg.AssetExecutionContext, config: LeadTimeConfig, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Days from a purchase invoice to the product's inventory entry (the first ING movement of the
    product on or after it, within ``horizon_days``), per supplier and product (``*``: all suppliers),
    over the purchases of the last ``window_days``: median and 90th percentile."""
    as_of = day_of(context.partition_key)
    options = {"horizon_days": config.horizon_days, "window_days": config.window_days}
    count, _ = _write(warehouse_db, sql.write_supplier_lead_times, as_of, **options)
    with warehouse_db.connect() as conn:
        sums = sql.totals(conn, tables.supplier_lead_times, as_of, "purchases", "deliveries")
    columns = ["supplier_id", "product_id", "purchases", "deliveries", "median_days", "p90_days"]
    facts = {k: int(v) for k, v in sums.items()}
    return _result(warehouse_db, tables.supplier_lead_times, as_of, count, columns, **facts)


@dg.asset(
    key=["warehouse", "contifico_reorder_suggestions"],
    deps=[contifico_stock_position, contifico_supplier_lead_times, _synced("warehouses")],
    metadata=table_metadata(tables.reorder_suggestions),
    **_snapshot(kinds={"postgres", "sql", "excel"}),
)
def contifico_reorder_suggestions(
    context: dg.AssetExecutionContext, config: ReorderConfig, warehouse_db: SqlDatabase, paths: CarteraPaths
) -> dg.MaterializeResult:
    """Reorder point (velocity × lead time + safety stock at the configured service level) and the
    quantity to order to reach the target coverage, per product and warehouse, ranked by urgency; an
    Excel report (summary + one sheet per warehouse) under the reports directory and a plot of the items
    most at risk."""
    as_of = day_of(context.partition_key)
    ensure_schema(warehouse_db)
    with warehouse_db.connect() as conn:
        inputs, names = sql.read_reorder_inputs(conn, as_of), sql.warehouse_names(conn)
    rows = reorder.suggestions(inputs, config.policy())
    computed_at = utcnow()
    with warehouse_db.begin() as conn:
        count = sql.write_reorder_suggestions(
            conn, as_of, [{"as_of": as_of, **r, "computed_at": computed_at} for r in rows]
        )
    report_metadata = _report(context, paths, rows, names, as_of, config.top_at_risk)
    to_order = [
        r for r in rows if r["urgency_rank"] is not None and r["warehouse_id"] == tables.ALL_WAREHOUSES
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            "as_of": as_of.isoformat(),
            "products_to_order": len(to_order),
            "suggested_value": str(sum((r["suggested_value"] for r in to_order), start=0)),
            **report_metadata,
        }
    )
