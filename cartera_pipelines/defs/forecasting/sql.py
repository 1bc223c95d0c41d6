"""SQL of the forecasting family: read the movements and our tables, replace a NIT's slice, keep history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.forecasting import tables as t
from cartera_pipelines.defs.forecasting.demand import DEMAND_DOCUMENT_TYPES, MovementGroup
from cartera_pipelines.defs.tns.tables import tns_inventory_movements as movements
from cartera_pipelines.lib import schema
from cartera_pipelines.lib.schema import ensure_schema


class MissingInput(RuntimeError):
    """An input table this asset reads does not exist yet."""


def require_table(conn: sa.Connection, table: sa.Table, produced_by: str) -> None:
    if not sa.inspect(conn).has_table(table.name):
        raise MissingInput(
            f"warehouse table {table.name} does not exist yet: materialize {produced_by} first"
        )


def movement_groups(conn: sa.Connection, nit: str) -> Iterator[MovementGroup]:
    """Sales and returns of every company-year of ``nit``, summed per article, month, type and warehouse.

    Grouped in the database, streamed out: the raw lines never come to Python.
    """
    year = sa.extract("year", movements.c.movement_date)
    month = sa.extract("month", movements.c.movement_date)
    query = (
        sa.select(
            movements.c.article_code,
            sa.func.max(movements.c.article_name),
            year,
            month,
            movements.c.document_type,
            movements.c.warehouse_code,
            sa.func.sum(movements.c.quantity),
            sa.func.sum(movements.c.line_total),
        )
        .where(movements.c.company_nit == nit, movements.c.document_type.in_(DEMAND_DOCUMENT_TYPES))
        .group_by(
            movements.c.article_code, year, month, movements.c.document_type, movements.c.warehouse_code
        )
        .order_by(movements.c.article_code, year, month)
    )
    # options on this statement only: Connection.execution_options() would stream the DDL that follows too
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": 5_000})
    for code, name, y, m, doc, warehouse, qty, value in result:
        yield MovementGroup(code, name, int(y), int(m), doc, warehouse, _dec(qty), _dec(value))


def _dec(value: Any) -> Any:
    from decimal import Decimal

    if value is None:
        return Decimal("0")
    return value if isinstance(value, Decimal) else Decimal(str(value))


def demand_rows(conn: sa.Connection, nit: str, since: dt.date | None = None) -> list[dict[str, Any]]:
    table = t.demand_monthly
    query = sa.select(table).where(table.c.nit == nit).order_by(table.c.article_code, table.c.month)
    if since is not None:
        query = query.where(table.c.month >= since)
    return [dict(r._mapping) for r in conn.execute(query)]


def slice_rows(conn: sa.Connection, table: sa.Table, nit: str) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.select(table).where(table.c.nit == nit))]


def actual_demand(conn: sa.Connection, nit: str) -> dict[tuple[str, dt.date], float]:
    """(article, month) -> demand of every month in ``demand_monthly`` for the NIT."""
    table = t.demand_monthly
    query = sa.select(table.c.article_code, table.c.month, table.c.demand_qty).where(table.c.nit == nit)
    return {(code, month): float(qty) for code, month, qty in conn.execute(query)}


def forecast_history(conn: sa.Connection, nit: str) -> list[dict[str, Any]]:
    """Every forecast ever published for the NIT (the table is created when missing: none yet)."""
    ensure_schema(conn.engine)
    return slice_rows(conn, t.demand_forecast_history, nit)


def replace_history(
    conn: sa.Connection, nit: str, trained_at: dt.datetime, rows: Iterable[Mapping[str, Any]]
) -> int:
    """Keep one training's published forecasts (replacing only that training's rows: idempotent)."""
    ensure_schema(conn.engine)
    table = t.demand_forecast_history
    where = sa.and_(table.c.nit == nit, table.c.trained_at == trained_at)
    return schema.replace_slice(conn, table, where, rows)[1]


def replace_slice(conn: sa.Connection, table: sa.Table, nit: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Delete the NIT's rows and insert ``rows`` (inside the caller's transaction)."""
    ensure_schema(conn.engine)
    return schema.replace_slice(conn, table, {"nit": nit}, rows)[1]
