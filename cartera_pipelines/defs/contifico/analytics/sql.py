"""Every query and write of the contifico inventory analytics: set-based SQL, one statement per measure.

Each measure is one ``INSERT … SELECT`` into its snapshot table (window functions and aggregates, no
rows through Python), run inside :func:`lib.schema.replace_slice` so a partition's slice is replaced in
one transaction. The SQL is the same on SQLite and PostgreSQL; dates are bound as parameters (no date
arithmetic in SQL except :func:`_days_between`), and every figure is rounded in SQL to its column's scale.
SQLite keeps a whole number in a NUMERIC column as an INTEGER, so every division multiplies by ``1.0``
first (else ``60 / 100`` is 0 there).

Rules where the synced data says less than the measure needs (also in ``docs/families/contifico.md``):

- **Sales** are the registry's client documents (``contifico_sales``, ``tipo_registro=CLI``) and their
  lines: ``FAC`` adds units, ``NCT`` (credit note) subtracts them; other types (``LQC``, quotes) and
  voided (``estado='A'``) or deleted documents are left out. ``documento/`` (``contifico_documents``) is
  not read: it repeats the same invoices as electronic documents and would count them twice.
- **Warehouse of a sale**: Contifico's sales documents carry no bodega. A product's net sales are spread
  over warehouses in proportion to its exits (``EGR`` movement lines) per warehouse in the same 90 days;
  a product without exits keeps its sales in the ``-`` (no warehouse) row. The ``*`` row is the product.
- **Stock on hand**: where a product has movement lines up to ``as_of`` (the ledger), stock per warehouse is
  ``ING − EGR``; otherwise the product's ``cantidad_stock`` (a total Contifico does not split by warehouse)
  is the ``-`` row. ``stock_source`` says which. Services (``tipo='SER'``) and deleted products are out.
- **Turnover**: COGS = net units sold in 12 months × ``costo_maximo``; the average inventory value is the
  mean of the closing value (stock on ``as_of``) and the opening value derived from it (closing − units
  bought + units sold in the 12 months, not below zero), both at ``costo_maximo``.
- **Lead time**: Contifico links no purchase to its entry. A purchase invoice's product is delivered by
  the first ``ING`` movement of that product (any warehouse) on or after the invoice date and at most
  ``horizon_days`` later; purchases with no such entry count in ``purchases`` but not in ``deliveries``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.contifico.analytics import tables
from cartera_pipelines.defs.contifico.tables import RESOURCE_TABLES
from cartera_pipelines.lib.schema import replace_slice

SALES_TYPES = "('FAC', 'NCT')"

# Net units per sales line, with the document's date, for live, not voided FAC/NCT documents.
_SOLD = """
sold AS (
    SELECT l.product_id, s.document_date AS day,
           CASE WHEN s.document_type = 'NCT' THEN -l.quantity ELSE l.quantity END AS qty
    FROM contifico_sales_lines l JOIN contifico_sales s ON s.id = l.parent_id
    WHERE s.deleted_at IS NULL AND (s.status IS NULL OR s.status <> 'A')
      AND s.document_type IN ('FAC', 'NCT') AND l.product_id IS NOT NULL
      AND s.document_date > :since AND s.document_date <= :as_of
)"""

# Movement lines with their header, live movements only.
_MOVES = """
moves AS (
    SELECT ml.product_id, m.warehouse_id, m.document_type, m.document_date AS day, ml.quantity AS qty
    FROM contifico_inventory_movement_lines ml
    JOIN contifico_inventory_movements m ON m.id = ml.parent_id
    WHERE m.deleted_at IS NULL AND ml.product_id IS NOT NULL AND m.document_date <= :as_of
)"""

VELOCITY = f"""
WITH {_SOLD}, {_MOVES},
totals AS (
    SELECT product_id,
           SUM(CASE WHEN day > :d30 THEN qty ELSE 0 END) AS units_30,
           SUM(qty) AS units_90,
           MAX(CASE WHEN qty > 0 THEN day END) AS last_sale_date
    FROM sold GROUP BY product_id
),
exits AS (
    SELECT product_id, warehouse_id, SUM(qty) AS qty FROM moves
    WHERE document_type = 'EGR' AND warehouse_id IS NOT NULL AND day > :since
    GROUP BY product_id, warehouse_id HAVING SUM(qty) > 0
),
shares AS (
    SELECT product_id, warehouse_id, qty * 1.0 / SUM(qty) OVER (PARTITION BY product_id) AS share FROM exits
),
scoped AS (
    SELECT product_id, '*' AS warehouse_id, 1.0 AS share, units_30, units_90, last_sale_date FROM totals
    UNION ALL
    SELECT t.product_id, COALESCE(s.warehouse_id, '-'), COALESCE(s.share, 1.0),
           t.units_30 * COALESCE(s.share, 1.0), t.units_90 * COALESCE(s.share, 1.0), t.last_sale_date
    FROM totals t LEFT JOIN shares s ON s.product_id = t.product_id
),
rounded AS (
    SELECT product_id, warehouse_id, ROUND(share, 6) AS share, ROUND(units_30, 6) AS units_30,
           ROUND(units_90, 6) AS units_90,
           ROUND(CASE WHEN units_30 > 0 THEN units_30 ELSE 0 END / 30.0, 6) AS velocity_30,
           ROUND(CASE WHEN units_90 > 0 THEN units_90 ELSE 0 END / 90.0, 6) AS velocity_90,
           last_sale_date
    FROM scoped
)
SELECT :as_of AS as_of, product_id, warehouse_id, share, units_30, units_90, velocity_30, velocity_90,
       CASE WHEN velocity_90 > 0 THEN ROUND(velocity_30 * 1.0 / velocity_90, 4) END AS trend,
       last_sale_date, :computed_at AS computed_at
FROM rounded
"""

STOCK = f"""
WITH {_MOVES},
ledger AS (
    SELECT product_id, warehouse_id,
           SUM(CASE WHEN document_type = 'ING' THEN qty WHEN document_type = 'EGR' THEN -qty ELSE 0 END) AS qty
    FROM moves WHERE warehouse_id IS NOT NULL GROUP BY product_id, warehouse_id
),
products AS (
    SELECT id AS product_id, category_id, COALESCE(stock, 0) AS stock, COALESCE(cost, 0) AS cost,
           minimum_stock
    FROM contifico_products
    WHERE deleted_at IS NULL AND (product_type IS NULL OR product_type <> 'SER')
),
per_warehouse AS (
    SELECT p.product_id, l.warehouse_id, 'ledger' AS stock_source, l.qty AS stock
    FROM products p JOIN ledger l ON l.product_id = p.product_id
    UNION ALL
    SELECT p.product_id, '-', 'product', p.stock FROM products p
    WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.product_id = p.product_id)
),
scoped AS (
    SELECT product_id, warehouse_id, stock_source, stock FROM per_warehouse
    UNION ALL
    SELECT product_id, '*', MIN(stock_source), SUM(stock) FROM per_warehouse GROUP BY product_id
),
valued AS (
    SELECT s.product_id, s.warehouse_id, s.stock_source, p.category_id, ROUND(s.stock, 6) AS stock,
           ROUND(p.cost, 6) AS unit_cost, ROUND(s.stock * p.cost, 2) AS stock_value,
           COALESCE(v.velocity_90, 0) AS velocity_90, p.minimum_stock, total.last_sale_date
    FROM scoped s
    JOIN products p ON p.product_id = s.product_id
    LEFT JOIN contifico_sales_velocity v
      ON v.as_of = :as_of AND v.product_id = s.product_id AND v.warehouse_id = s.warehouse_id
    LEFT JOIN contifico_sales_velocity total
      ON total.as_of = :as_of AND total.product_id = s.product_id AND total.warehouse_id = '*'
)
SELECT :as_of AS as_of, product_id, warehouse_id, stock_source, category_id, stock, unit_cost, stock_value,
       velocity_90,
       CASE WHEN stock <= 0 THEN 0 WHEN velocity_90 > 0 THEN ROUND(stock * 1.0 / velocity_90, 2) END
           AS days_coverage,
       minimum_stock,
       CASE WHEN warehouse_id <> '*' OR minimum_stock IS NULL THEN NULL
            WHEN stock < minimum_stock THEN TRUE ELSE FALSE END AS below_minimum,
       CASE WHEN stock > 0 AND last_sale_date IS NULL THEN TRUE ELSE FALSE END AS dead_stock,
       :computed_at AS computed_at
FROM valued
"""

TURNOVER = f"""
WITH {_SOLD},
sold_units AS (SELECT product_id, SUM(qty) AS units FROM sold GROUP BY product_id),
bought AS (
    SELECT l.product_id,
           SUM(CASE WHEN p.document_type = 'NCT' THEN -l.quantity ELSE l.quantity END) AS units
    FROM contifico_purchases_lines l JOIN contifico_purchases p ON p.id = l.parent_id
    WHERE p.deleted_at IS NULL AND (p.status IS NULL OR p.status <> 'A')
      AND p.document_type IN ('FAC', 'NCT') AND l.product_id IS NOT NULL
      AND p.document_date > :since AND p.document_date <= :as_of
    GROUP BY l.product_id
),
per_product AS (
    SELECT c.product_id, c.category_id, c.unit_cost, COALESCE(s.units, 0) AS units_sold, c.stock AS closing,
           c.stock - COALESCE(b.units, 0) + COALESCE(s.units, 0) AS opening
    FROM contifico_stock_position c
    LEFT JOIN sold_units s ON s.product_id = c.product_id
    LEFT JOIN bought b ON b.product_id = c.product_id
    WHERE c.as_of = :as_of AND c.warehouse_id = '*'
),
valued AS (
    SELECT product_id, category_id, units_sold, ROUND(units_sold * unit_cost, 2) AS cogs,
           ROUND(CASE WHEN opening > 0 THEN opening ELSE 0 END * unit_cost, 2) AS opening_value,
           ROUND(CASE WHEN closing > 0 THEN closing ELSE 0 END * unit_cost, 2) AS closing_value
    FROM per_product
),
scoped AS (
    SELECT 'product' AS scope, product_id AS scope_id, category_id, units_sold, cogs, opening_value,
           closing_value
    FROM valued
    UNION ALL
    SELECT 'category', COALESCE(category_id, '-'), MIN(category_id), SUM(units_sold), SUM(cogs),
           SUM(opening_value), SUM(closing_value)
    FROM valued GROUP BY COALESCE(category_id, '-')
)
SELECT :as_of AS as_of, scope, scope_id, category_id, ROUND(units_sold, 6) AS units_sold, cogs,
       opening_value, closing_value, ROUND((opening_value + closing_value) / 2.0, 2) AS average_inventory_value,
       CASE WHEN opening_value + closing_value > 0
            THEN ROUND(cogs * 1.0 / ((opening_value + closing_value) / 2.0), 4) END AS turnover,
       :computed_at AS computed_at
FROM scoped
"""

LEAD_TIMES = """
WITH bought AS (
    SELECT p.person_id AS supplier_id, l.product_id, p.id AS purchase_id, p.document_date AS purchased
    FROM contifico_purchases_lines l JOIN contifico_purchases p ON p.id = l.parent_id
    WHERE p.deleted_at IS NULL AND (p.status IS NULL OR p.status <> 'A') AND p.document_type = 'FAC'
      AND l.product_id IS NOT NULL AND p.person_id IS NOT NULL
      AND p.document_date > :since AND p.document_date <= :as_of
    GROUP BY p.person_id, l.product_id, p.id, p.document_date
),
entries AS (
    SELECT DISTINCT ml.product_id, m.document_date AS entered
    FROM contifico_inventory_movement_lines ml JOIN contifico_inventory_movements m ON m.id = ml.parent_id
    WHERE m.deleted_at IS NULL AND m.document_type = 'ING' AND ml.product_id IS NOT NULL
      AND m.document_date >= :since AND m.document_date <= :as_of
),
matched AS (
    SELECT b.supplier_id, b.product_id, b.purchase_id, MIN({days}) AS lead
    FROM bought b JOIN entries e ON e.product_id = b.product_id AND e.entered >= b.purchased
    WHERE {days} <= :horizon
    GROUP BY b.supplier_id, b.product_id, b.purchase_id
),
scoped AS (
    SELECT supplier_id, product_id, lead FROM matched
    UNION ALL
    SELECT '*', product_id, lead FROM matched
),
ranked AS (
    SELECT supplier_id, product_id, lead,
           ROW_NUMBER() OVER (PARTITION BY supplier_id, product_id ORDER BY lead) AS rn,
           COUNT(*) OVER (PARTITION BY supplier_id, product_id) AS n
    FROM scoped
),
stats AS (
    SELECT supplier_id, product_id, MAX(n) AS deliveries,
           ROUND(AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN lead END), 2) AS median_days,
           MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN lead END) AS p90_days,
           MIN(lead) AS min_days, MAX(lead) AS max_days
    FROM ranked GROUP BY supplier_id, product_id
),
purchases AS (
    SELECT supplier_id, product_id, COUNT(*) AS purchases FROM bought GROUP BY supplier_id, product_id
    UNION ALL
    SELECT '*', product_id, COUNT(*) FROM bought GROUP BY product_id
)
SELECT :as_of AS as_of, c.supplier_id, c.product_id, c.purchases, COALESCE(s.deliveries, 0) AS deliveries,
       s.median_days, s.p90_days, s.min_days, s.max_days, :computed_at AS computed_at
FROM purchases c LEFT JOIN stats s ON s.supplier_id = c.supplier_id AND s.product_id = c.product_id
"""

# What the reorder policy needs per stock row: velocity and its share, daily demand spread, lead time.
REORDER_INPUTS = f"""
WITH {_SOLD},
daily AS (SELECT product_id, day, SUM(qty) AS qty FROM sold GROUP BY product_id, day),
demand AS (
    SELECT product_id, SUM(qty) AS total, SUM(qty * qty) AS squares FROM daily GROUP BY product_id
)
SELECT sp.product_id, sp.warehouse_id, sp.stock, sp.unit_cost, sp.velocity_90,
       COALESCE(v.share, 0) AS share, COALESCE(d.total, 0) AS demand_total,
       COALESCE(d.squares, 0) AS demand_squares, lt.median_days AS lead_time_days
FROM contifico_stock_position sp
LEFT JOIN contifico_sales_velocity v
  ON v.as_of = sp.as_of AND v.product_id = sp.product_id AND v.warehouse_id = sp.warehouse_id
LEFT JOIN demand d ON d.product_id = sp.product_id
LEFT JOIN contifico_supplier_lead_times lt
  ON lt.as_of = sp.as_of AND lt.supplier_id = '*' AND lt.product_id = sp.product_id
WHERE sp.as_of = :as_of
ORDER BY sp.product_id, sp.warehouse_id
"""


def _days_between(dialect: str, later: str, earlier: str) -> str:
    """Whole days from ``earlier`` to ``later`` (DATE columns) in the engine's own words."""
    if dialect == "sqlite":
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    return f"({later} - {earlier})"


def _params(as_of: dt.date, window_days: int, computed_at: dt.datetime, **extra: Any) -> dict[str, Any]:
    return {
        "as_of": as_of,
        "since": as_of - dt.timedelta(days=window_days),
        "d30": as_of - dt.timedelta(days=30),
        "computed_at": computed_at,
        **extra,
    }


_TYPES: dict[str, sa.types.TypeEngine] = {
    "as_of": sa.Date(),
    "since": sa.Date(),
    "d30": sa.Date(),
    "computed_at": tables.TIMESTAMP,
    "horizon": sa.Integer(),
}


def _statement(sql: str, params: Mapping[str, Any]) -> sa.TextClause:
    """``sql`` with the parameters it names bound to their values and types."""
    binds = [
        sa.bindparam(name, value=value, type_=_TYPES[name])
        for name, value in params.items()
        if f":{name}" in sql
    ]
    return sa.text(sql).bindparams(*binds)


_SALES = ("contifico_sales", "contifico_sales_lines")
_PURCHASES = ("contifico_purchases", "contifico_purchases_lines")
_MOVEMENTS = ("contifico_inventory_movements", "contifico_inventory_movement_lines")

_STALE = sa.text(
    "SELECT relname FROM pg_stat_user_tables WHERE relname IN :names AND ("
    " (last_analyze IS NULL AND last_autoanalyze IS NULL)"
    " OR n_mod_since_analyze > 0.1 * GREATEST(n_live_tup, 1000))"
).bindparams(sa.bindparam("names", expanding=True))


def refresh_statistics(conn: sa.Connection, names: tuple[str, ...]) -> list[str]:
    """ANALYZE the synced tables a measure reads whose statistics are missing or stale (PostgreSQL).

    Right after a large sync autovacuum has not analyzed the tables yet; PostgreSQL then takes them for
    a few rows and plans nested loops (velocity and lead times took 15 s each instead of 0.3 s on the
    200k-record benchmark). Returns the tables analyzed.
    """
    if conn.dialect.name != "postgresql":
        return []
    stale = list(conn.execute(_STALE, {"names": list(names)}).scalars())
    for name in stale:
        conn.exec_driver_sql(f"ANALYZE {name}")
    return stale


def _replace(
    conn: sa.Connection, table: sa.Table, sql: str, params: Mapping[str, Any], sources: tuple[str, ...] = ()
) -> int:
    """Replace the ``as_of`` slice of ``table`` with what ``sql`` selects (same column order)."""
    refresh_statistics(conn, sources)
    select = _statement(sql, params).columns(*(sa.column(c.name) for c in table.columns))
    _, inserted = replace_slice(conn, table, {"as_of": params["as_of"]}, select)
    if conn.dialect.name == "postgresql":
        # The next asset joins this slice: without fresh statistics PostgreSQL guessed a handful of rows
        # and chose a nested loop (stock position 16 s instead of 1 s on the 200k-record benchmark).
        conn.exec_driver_sql(f"ANALYZE {table.name}")
    return inserted


def write_sales_velocity(conn: sa.Connection, as_of: dt.date, computed_at: dt.datetime) -> int:
    params = _params(as_of, 90, computed_at)
    return _replace(conn, tables.sales_velocity, VELOCITY, params, _SALES + _MOVEMENTS)


def write_stock_position(conn: sa.Connection, as_of: dt.date, computed_at: dt.datetime) -> int:
    params = _params(as_of, 90, computed_at)
    return _replace(conn, tables.stock_position, STOCK, params, ("contifico_products", *_MOVEMENTS))


def write_turnover(conn: sa.Connection, as_of: dt.date, computed_at: dt.datetime) -> int:
    return _replace(conn, tables.turnover, TURNOVER, _params(as_of, 365, computed_at), _SALES + _PURCHASES)


def write_supplier_lead_times(
    conn: sa.Connection, as_of: dt.date, computed_at: dt.datetime, *, horizon_days: int, window_days: int
) -> int:
    days = _days_between(conn.dialect.name, "e.entered", "b.purchased")
    sql = LEAD_TIMES.replace("{days}", days)
    params = _params(as_of, window_days, computed_at, horizon=horizon_days)
    return _replace(conn, tables.supplier_lead_times, sql, params, _PURCHASES + _MOVEMENTS)


def read_reorder_inputs(conn: sa.Connection, as_of: dt.date) -> list[dict[str, Any]]:
    """One row per stock position of ``as_of`` with what the reorder policy needs (aggregated in SQL)."""
    statement = _statement(REORDER_INPUTS, {"as_of": as_of, "since": as_of - dt.timedelta(days=90)})
    quantities = ("stock", "unit_cost", "velocity_90", "share", "demand_total", "demand_squares")
    statement = statement.columns(**dict.fromkeys(quantities, tables.QUANTITY), lead_time_days=tables.DAYS)
    return [dict(row._mapping) for row in conn.execute(statement)]


def write_reorder_suggestions(conn: sa.Connection, as_of: dt.date, rows: list[dict[str, Any]]) -> int:
    return replace_slice(conn, tables.reorder_suggestions, {"as_of": as_of}, rows)[1]


def read_slice(conn: sa.Connection, table: sa.Table, as_of: dt.date, **where: Any) -> list[dict[str, Any]]:
    """A partition's rows (optionally narrowed by column = value), in key order."""
    query = sa.select(table).where(table.c.as_of == as_of, *(table.c[k] == v for k, v in where.items()))
    return [dict(r._mapping) for r in conn.execute(query.order_by(*table.primary_key.columns))]


def warehouse_names(conn: sa.Connection) -> dict[str, str]:
    """bodega id → its name (or code), for the report's sheet names."""
    rows = conn.execute(sa.text("SELECT id, COALESCE(name, code, id) AS name FROM contifico_warehouses"))
    return {row.id: row.name for row in rows}


def data_date_range(conn: sa.Connection) -> tuple[dt.date | None, dt.date | None]:
    """The earliest purchase date and the latest movement date in the synced data (lead-time bounds)."""
    query = sa.text(
        "SELECT (SELECT MIN(document_date) FROM contifico_purchases) AS first_day, "
        "(SELECT MAX(document_date) FROM contifico_inventory_movements) AS last_day"
    ).columns(sa.column("first_day", sa.Date), sa.column("last_day", sa.Date))
    row = conn.execute(query).one()
    return row.first_day, row.last_day


def totals(conn: sa.Connection, table: sa.Table, as_of: dt.date, *columns: str) -> dict[str, Decimal]:
    """Sums of ``columns`` over a partition (metadata figures)."""
    query = sa.select(*(sa.func.coalesce(sa.func.sum(table.c[c]), 0).label(c) for c in columns))
    return dict(conn.execute(query.where(table.c.as_of == as_of)).one()._mapping)


def position_facts(conn: sa.Connection, as_of: dt.date) -> dict[str, Any]:
    """The stock position figures a buyer asks first (over the ``*`` rows: one per product)."""
    sp = tables.stock_position
    query = sa.select(
        sa.func.count().label("products"),
        sa.func.coalesce(sa.func.sum(sp.c.stock_value), 0).label("stock_value"),
        sa.func.count().filter(sp.c.below_minimum.is_(True)).label("below_minimum"),
        sa.func.count().filter(sp.c.dead_stock.is_(True)).label("dead_stock"),
        sa.func.count().filter(sp.c.stock_source == "ledger").label("from_ledger"),
    ).where(sp.c.as_of == as_of, sp.c.warehouse_id == tables.ALL_WAREHOUSES)
    row = conn.execute(query).one()._mapping
    return {
        **{k: int(v) for k, v in row.items() if k != "stock_value"},
        "stock_value": str(row["stock_value"]),
    }


def missing_or_repeated_positions(as_of: dt.date) -> sa.Select[Any]:
    """Live, stocked products (``stock`` ≠ 0, not services) without a ``*`` row on ``as_of``; (product,
    warehouse) pairs whose movement ledger holds stock but have no row; pairs present more than once."""
    sp, products = tables.stock_position, RESOURCE_TABLES["products"]
    moves, lines = RESOURCE_TABLES["inventory_movements"], tables.movement_lines
    live = sa.and_(
        products.c.deleted_at.is_(None),
        sa.or_(products.c.product_type.is_(None), products.c.product_type != "SER"),
    )
    has_total = sa.exists().where(
        sp.c.as_of == as_of, sp.c.product_id == products.c.id, sp.c.warehouse_id == tables.ALL_WAREHOUSES
    )
    missing = sa.select(
        products.c.id.label("product_id"), sa.literal(tables.ALL_WAREHOUSES).label("warehouse_id")
    ).where(live, sa.func.coalesce(products.c.stock, 0) != 0, ~has_total)
    signed = sa.case((moves.c.document_type == "ING", lines.c.quantity), else_=-lines.c.quantity)
    ledger = (
        sa.select(lines.c.product_id, moves.c.warehouse_id)
        .join(moves, moves.c.id == lines.c.parent_id)
        .join(products, sa.and_(products.c.id == lines.c.product_id, live))
        .where(
            moves.c.deleted_at.is_(None),
            moves.c.document_type.in_(("ING", "EGR")),
            moves.c.warehouse_id.is_not(None),
            moves.c.document_date <= as_of,
        )
        .group_by(lines.c.product_id, moves.c.warehouse_id)
        .having(sa.func.sum(signed) != 0)
        .subquery()
    )
    has_row = sa.exists().where(
        sp.c.as_of == as_of,
        sp.c.product_id == ledger.c.product_id,
        sp.c.warehouse_id == ledger.c.warehouse_id,
    )
    missing_in_warehouse = sa.select(ledger.c.product_id, ledger.c.warehouse_id).where(~has_row)
    repeated = (
        sa.select(sp.c.product_id, sp.c.warehouse_id)
        .where(sp.c.as_of == as_of)
        .group_by(sp.c.product_id, sp.c.warehouse_id)
        .having(sa.func.count() > 1)
    )
    return sa.select(sa.union_all(missing, missing_in_warehouse, repeated).subquery())
