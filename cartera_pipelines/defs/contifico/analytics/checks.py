"""Checks of the contifico inventory analytics, on the partition's slice (run alone: the latest slice).

Velocities are never negative; coverage agrees with stock and velocity; every live stocked product has
its row once per warehouse; measured lead times fall inside the synced data's date range.
"""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

# The module, not its names: the defs loader collects every asset a module holds at its top level.
from cartera_pipelines.defs.contifico.analytics import assets, sql, tables
from cartera_pipelines.defs.contifico.analytics.partitions import day_of
from cartera_pipelines.lib.checks import offenders_check
from cartera_pipelines.resources.database import SqlDatabase


def _as_of(context: dg.AssetCheckExecutionContext, conn: sa.Connection, table: sa.Table) -> dt.date | None:
    if context.has_partition_key:
        return day_of(context.partition_key)
    return conn.execute(sa.select(sa.func.max(table.c.as_of))).scalar_one()


@dg.asset_check(asset=assets.contifico_sales_velocity, description="No velocity is negative.")
def velocities_not_negative(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    v = tables.sales_velocity
    with warehouse_db.connect() as conn:
        as_of = _as_of(context, conn, v)
        offenders = sa.select(v.c.product_id, v.c.warehouse_id, v.c.velocity_30, v.c.velocity_90).where(
            v.c.as_of == as_of, sa.or_(v.c.velocity_30 < 0, v.c.velocity_90 < 0)
        )
        return offenders_check(conn, offenders, "rows with a negative velocity")


@dg.asset_check(
    asset=assets.contifico_stock_position,
    description="days_coverage = stock ÷ velocity (to the hundredth), 0 without stock, empty without sales.",
)
def coverage_consistent(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    sp = tables.stock_position
    with warehouse_db.connect() as conn:
        as_of = _as_of(context, conn, sp)
        selling = sa.and_(sp.c.stock > 0, sp.c.velocity_90 > 0)
        wrong = sa.or_(
            sa.and_(selling, sa.func.abs(sp.c.days_coverage - sp.c.stock * 1.0 / sp.c.velocity_90) > 0.006),
            sa.and_(selling, sp.c.days_coverage.is_(None)),
            sa.and_(sp.c.stock <= 0, sa.func.coalesce(sp.c.days_coverage, -1) != 0),
            sa.and_(sp.c.stock > 0, sp.c.velocity_90 == 0, sp.c.days_coverage.is_not(None)),
        )
        columns = (sp.c.product_id, sp.c.warehouse_id, sp.c.stock, sp.c.velocity_90, sp.c.days_coverage)
        offenders = sa.select(*columns).where(sp.c.as_of == as_of, wrong)
        return offenders_check(conn, offenders, "rows whose coverage disagrees with stock and velocity")


@dg.asset_check(
    asset=assets.contifico_stock_position,
    description="Every live product with stock has its all-warehouses row, every warehouse where its ledger "
    "holds stock has its row, and no product appears twice in a warehouse.",
)
def every_stocked_product_once_per_warehouse(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    sp = tables.stock_position
    with warehouse_db.connect() as conn:
        as_of = _as_of(context, conn, sp)
        offenders = sql.missing_or_repeated_positions(as_of)
        return offenders_check(conn, offenders, "stocked products missing or repeated in a warehouse")


@dg.asset_check(
    asset=assets.contifico_supplier_lead_times,
    description="Lead times lie between 0 and the span of the synced data (first purchase to last movement).",
)
def lead_times_within_data_range(
    context: dg.AssetCheckExecutionContext, warehouse_db: SqlDatabase
) -> dg.AssetCheckResult:
    lt = tables.supplier_lead_times
    with warehouse_db.connect() as conn:
        as_of = _as_of(context, conn, lt)
        first_day, last_day = sql.data_date_range(conn)
        span = (last_day - first_day).days if first_day and last_day else 0
        outside = sa.or_(lt.c.min_days < 0, lt.c.max_days > span)
        offenders = sa.select(lt.c.supplier_id, lt.c.product_id, lt.c.min_days, lt.c.max_days).where(
            lt.c.as_of == as_of, outside
        )
        return offenders_check(
            conn, offenders, f"lead times outside 0–{span} days", metadata={"data_span_days": span}
        )
