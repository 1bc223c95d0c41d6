"""Warehouse tables of the contifico inventory analytics, and the synced line tables they read.

Every analytics table is a daily snapshot keyed by ``as_of`` (Ecuador's date, the partition): one
partition's slice is replaced in one transaction. ``warehouse_id`` is a Contifico bodega id, or one of
two markers: :data:`ALL_WAREHOUSES` (``*``, the product over all warehouses) and :data:`NO_WAREHOUSE`
(``-``, stock or sales that Contifico does not place in a warehouse; see ``sql.py`` for the rules).
Quantities are ``NUMERIC(20, 6)``, money ``NUMERIC(20, 2)``.
"""

from __future__ import annotations

import sqlalchemy as sa

from cartera_pipelines.defs.contifico.tables import CHILD_TABLES

ALL_WAREHOUSES = "*"
NO_WAREHOUSE = "-"
ALL_SUPPLIERS = "*"

metadata = sa.MetaData()

QUANTITY = sa.Numeric(20, 6, asdecimal=True)
MONEY = sa.Numeric(20, 2, asdecimal=True)
RATIO = sa.Numeric(20, 4, asdecimal=True)
DAYS = sa.Numeric(20, 2, asdecimal=True)
TIMESTAMP = sa.DateTime(timezone=True)
ID = sa.String(32)


def _snapshot(name: str, comment: str, *columns: sa.Column, key: tuple[str, ...]) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("as_of", sa.Date, nullable=False, comment="Ecuador's date of the snapshot (the partition)"),
        *columns,
        sa.Column("computed_at", TIMESTAMP, nullable=False, comment="When the slice was written (UTC)"),
        sa.PrimaryKeyConstraint("as_of", *key),
        comment=comment,
    )


sales_velocity = _snapshot(
    "contifico_sales_velocity",
    "Units sold per day over the 30 and 90 days up to as_of, net of credit notes, per product and warehouse",
    sa.Column("product_id", ID, nullable=False),
    sa.Column("warehouse_id", ID, nullable=False, comment="bodega id, '*' all warehouses, '-' none"),
    sa.Column("share", QUANTITY, nullable=False, comment="Share of the product's sales given to this row"),
    sa.Column("units_30", QUANTITY, nullable=False, comment="Net units (FAC minus NCT), last 30 days"),
    sa.Column("units_90", QUANTITY, nullable=False, comment="Net units (FAC minus NCT), last 90 days"),
    sa.Column("velocity_30", QUANTITY, nullable=False, comment="max(units_30, 0) / 30"),
    sa.Column("velocity_90", QUANTITY, nullable=False, comment="max(units_90, 0) / 90"),
    sa.Column("trend", RATIO, nullable=True, comment="velocity_30 / velocity_90 (>1: selling faster)"),
    sa.Column("last_sale_date", sa.Date, nullable=True, comment="Last invoice of the product in 90 days"),
    key=("product_id", "warehouse_id"),
)

stock_position = _snapshot(
    "contifico_stock_position",
    "Stock on hand per product and warehouse: value at cost, days of coverage, below minimo, dead stock",
    sa.Column("product_id", ID, nullable=False),
    sa.Column("warehouse_id", ID, nullable=False, comment="bodega id, '*' all warehouses, '-' none"),
    sa.Column("stock_source", sa.String(8), nullable=False, comment="ledger (movements) or product"),
    sa.Column("category_id", ID, nullable=True),
    sa.Column("stock", QUANTITY, nullable=False, comment="Units on hand"),
    sa.Column("unit_cost", QUANTITY, nullable=False, comment="costo_maximo of the product"),
    sa.Column("stock_value", MONEY, nullable=False, comment="stock × unit_cost"),
    sa.Column("velocity_90", QUANTITY, nullable=False, comment="Units per day (sales_velocity)"),
    sa.Column(
        "days_coverage", DAYS, nullable=True, comment="stock / velocity_90; 0 without stock; NULL: no sales"
    ),
    sa.Column("minimum_stock", QUANTITY, nullable=True, comment="minimo (a product-wide figure)"),
    sa.Column("below_minimum", sa.Boolean, nullable=True, comment="stock < minimo ('*' rows only)"),
    sa.Column("dead_stock", sa.Boolean, nullable=False, comment="stock > 0 and no sale in 90 days"),
    key=("product_id", "warehouse_id"),
)

turnover = _snapshot(
    "contifico_turnover",
    "Inventory turnover over the 12 months up to as_of: COGS / average inventory value",
    sa.Column("scope", sa.String(8), nullable=False, comment="product or category"),
    sa.Column("scope_id", ID, nullable=False, comment="product id, or category id ('-' none)"),
    sa.Column("category_id", ID, nullable=True),
    sa.Column("units_sold", QUANTITY, nullable=False, comment="Net units sold in 12 months"),
    sa.Column("cogs", MONEY, nullable=False, comment="units_sold × unit cost"),
    sa.Column("opening_value", MONEY, nullable=False, comment="Stock value 12 months before (derived)"),
    sa.Column("closing_value", MONEY, nullable=False, comment="Stock value on as_of"),
    sa.Column("average_inventory_value", MONEY, nullable=False, comment="(opening + closing) / 2"),
    sa.Column("turnover", RATIO, nullable=True, comment="cogs / average_inventory_value"),
    key=("scope", "scope_id"),
)

supplier_lead_times = _snapshot(
    "contifico_supplier_lead_times",
    "Days from a purchase document to the product's inventory entry, per supplier and product (12 months)",
    sa.Column("supplier_id", ID, nullable=False, comment="persona id of the purchase, '*' all suppliers"),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("purchases", sa.Integer, nullable=False, comment="Purchase documents with the product"),
    sa.Column("deliveries", sa.Integer, nullable=False, comment="Purchases matched to an entry"),
    sa.Column("median_days", DAYS, nullable=True),
    sa.Column("p90_days", sa.Integer, nullable=True, comment="Nearest-rank 90th percentile"),
    sa.Column("min_days", sa.Integer, nullable=True),
    sa.Column("max_days", sa.Integer, nullable=True),
    key=("supplier_id", "product_id"),
)

reorder_suggestions = _snapshot(
    "contifico_reorder_suggestions",
    "Reorder point and suggested order quantity per product and warehouse, ranked by urgency",
    sa.Column("product_id", ID, nullable=False),
    sa.Column("warehouse_id", ID, nullable=False, comment="bodega id, '*' all warehouses, '-' none"),
    sa.Column("stock", QUANTITY, nullable=False),
    sa.Column("velocity_90", QUANTITY, nullable=False),
    sa.Column("lead_time_days", DAYS, nullable=False),
    sa.Column("lead_time_source", sa.String(8), nullable=False, comment="supplier (measured) or default"),
    sa.Column("safety_stock", QUANTITY, nullable=False, comment="z(service level) × σ(daily demand) × √L"),
    sa.Column("reorder_point", QUANTITY, nullable=False, comment="velocity × lead time + safety stock"),
    sa.Column("suggested_quantity", QUANTITY, nullable=False, comment="Units to order (0: none needed)"),
    sa.Column("suggested_value", MONEY, nullable=False, comment="suggested_quantity × unit cost"),
    sa.Column("days_to_stockout", DAYS, nullable=True, comment="stock / velocity; NULL without sales"),
    sa.Column("slack_days", DAYS, nullable=True, comment="days_to_stockout − lead time (<0: too late)"),
    sa.Column("urgency_rank", sa.Integer, nullable=True, comment="1 = most urgent within the warehouse"),
    key=("product_id", "warehouse_id"),
)

ANALYTICS_TABLES = (sales_velocity, stock_position, turnover, supplier_lead_times, reorder_suggestions)

# -- the synced line tables we read: declared by the contifico family (revision contifico_0002) ---------
sales_lines = CHILD_TABLES["sales_lines"]
purchases_lines = CHILD_TABLES["purchases_lines"]
movement_lines = CHILD_TABLES["inventory_movement_lines"]
