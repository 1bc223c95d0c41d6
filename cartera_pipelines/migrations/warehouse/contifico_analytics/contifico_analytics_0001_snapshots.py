"""contifico_analytics: the inventory analytics snapshots (sales velocity, stock position, turnover,
supplier lead times, reorder suggestions), one slice per Ecuador day.

They read the contifico line tables, so this branch starts after the revision that creates them.

Revision ID: contifico_analytics_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "contifico_analytics_0001"
down_revision = None
branch_labels = ("contifico_analytics",)
# The contifico revision that creates the line tables (contifico_sales_lines, …) the analytics read.
depends_on = "contifico_0002"

TABLES = (
    "contifico_reorder_suggestions",
    "contifico_supplier_lead_times",
    "contifico_turnover",
    "contifico_stock_position",
    "contifico_sales_velocity",
)


def upgrade() -> None:
    op.create_table(
        "contifico_sales_velocity",
        sa.Column(
            "as_of", sa.Date(), nullable=False, comment="Ecuador's date of the snapshot (the partition)"
        ),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column(
            "warehouse_id",
            sa.String(length=32),
            nullable=False,
            comment="bodega id, '*' all warehouses, '-' none",
        ),
        sa.Column(
            "share",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="Share of the product's sales given to this row",
        ),
        sa.Column(
            "units_30",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="Net units (FAC minus NCT), last 30 days",
        ),
        sa.Column(
            "units_90",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="Net units (FAC minus NCT), last 90 days",
        ),
        sa.Column(
            "velocity_30", sa.Numeric(precision=20, scale=6), nullable=False, comment="max(units_30, 0) / 30"
        ),
        sa.Column(
            "velocity_90", sa.Numeric(precision=20, scale=6), nullable=False, comment="max(units_90, 0) / 90"
        ),
        sa.Column(
            "trend",
            sa.Numeric(precision=20, scale=4),
            nullable=True,
            comment="velocity_30 / velocity_90 (>1: selling faster)",
        ),
        sa.Column(
            "last_sale_date", sa.Date(), nullable=True, comment="Last invoice of the product in 90 days"
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the slice was written (UTC)",
        ),
        sa.PrimaryKeyConstraint("as_of", "product_id", "warehouse_id"),
        comment="Units sold per day over the 30 and 90 days up to as_of, net of credit notes, per product and warehouse",
    )
    op.create_table(
        "contifico_stock_position",
        sa.Column(
            "as_of", sa.Date(), nullable=False, comment="Ecuador's date of the snapshot (the partition)"
        ),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column(
            "warehouse_id",
            sa.String(length=32),
            nullable=False,
            comment="bodega id, '*' all warehouses, '-' none",
        ),
        sa.Column(
            "stock_source", sa.String(length=8), nullable=False, comment="ledger (movements) or product"
        ),
        sa.Column("category_id", sa.String(length=32), nullable=True),
        sa.Column("stock", sa.Numeric(precision=20, scale=6), nullable=False, comment="Units on hand"),
        sa.Column(
            "unit_cost",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="costo_maximo of the product",
        ),
        sa.Column(
            "stock_value", sa.Numeric(precision=20, scale=2), nullable=False, comment="stock × unit_cost"
        ),
        sa.Column(
            "velocity_90",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="Units per day (sales_velocity)",
        ),
        sa.Column(
            "days_coverage",
            sa.Numeric(precision=20, scale=2),
            nullable=True,
            comment="stock / velocity_90; 0 without stock; NULL: no sales",
        ),
        sa.Column(
            "minimum_stock",
            sa.Numeric(precision=20, scale=6),
            nullable=True,
            comment="minimo (a product-wide figure)",
        ),
        sa.Column("below_minimum", sa.Boolean(), nullable=True, comment="stock < minimo ('*' rows only)"),
        sa.Column("dead_stock", sa.Boolean(), nullable=False, comment="stock > 0 and no sale in 90 days"),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the slice was written (UTC)",
        ),
        sa.PrimaryKeyConstraint("as_of", "product_id", "warehouse_id"),
        comment="Stock on hand per product and warehouse: value at cost, days of coverage, below minimo, dead stock",
    )
    op.create_table(
        "contifico_turnover",
        sa.Column(
            "as_of", sa.Date(), nullable=False, comment="Ecuador's date of the snapshot (the partition)"
        ),
        sa.Column("scope", sa.String(length=8), nullable=False, comment="product or category"),
        sa.Column(
            "scope_id", sa.String(length=32), nullable=False, comment="product id, or category id ('-' none)"
        ),
        sa.Column("category_id", sa.String(length=32), nullable=True),
        sa.Column(
            "units_sold",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="Net units sold in 12 months",
        ),
        sa.Column(
            "cogs", sa.Numeric(precision=20, scale=2), nullable=False, comment="units_sold × unit cost"
        ),
        sa.Column(
            "opening_value",
            sa.Numeric(precision=20, scale=2),
            nullable=False,
            comment="Stock value 12 months before (derived)",
        ),
        sa.Column(
            "closing_value", sa.Numeric(precision=20, scale=2), nullable=False, comment="Stock value on as_of"
        ),
        sa.Column(
            "average_inventory_value",
            sa.Numeric(precision=20, scale=2),
            nullable=False,
            comment="(opening + closing) / 2",
        ),
        sa.Column(
            "turnover",
            sa.Numeric(precision=20, scale=4),
            nullable=True,
            comment="cogs / average_inventory_value",
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the slice was written (UTC)",
        ),
        sa.PrimaryKeyConstraint("as_of", "scope", "scope_id"),
        comment="Inventory turnover over the 12 months up to as_of: COGS / average inventory value",
    )
    op.create_table(
        "contifico_supplier_lead_times",
        sa.Column(
            "as_of", sa.Date(), nullable=False, comment="Ecuador's date of the snapshot (the partition)"
        ),
        sa.Column(
            "supplier_id",
            sa.String(length=32),
            nullable=False,
            comment="persona id of the purchase, '*' all suppliers",
        ),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False, comment="Purchase documents with the product"),
        sa.Column("deliveries", sa.Integer(), nullable=False, comment="Purchases matched to an entry"),
        sa.Column("median_days", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("p90_days", sa.Integer(), nullable=True, comment="Nearest-rank 90th percentile"),
        sa.Column("min_days", sa.Integer(), nullable=True),
        sa.Column("max_days", sa.Integer(), nullable=True),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the slice was written (UTC)",
        ),
        sa.PrimaryKeyConstraint("as_of", "supplier_id", "product_id"),
        comment="Days from a purchase document to the product's inventory entry, per supplier and product (12 months)",
    )
    op.create_table(
        "contifico_reorder_suggestions",
        sa.Column(
            "as_of", sa.Date(), nullable=False, comment="Ecuador's date of the snapshot (the partition)"
        ),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column(
            "warehouse_id",
            sa.String(length=32),
            nullable=False,
            comment="bodega id, '*' all warehouses, '-' none",
        ),
        sa.Column("stock", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("velocity_90", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("lead_time_days", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column(
            "lead_time_source", sa.String(length=8), nullable=False, comment="supplier (measured) or default"
        ),
        sa.Column(
            "safety_stock",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="z(service level) × σ(daily demand) × √L",
        ),
        sa.Column(
            "reorder_point",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="velocity × lead time + safety stock",
        ),
        sa.Column(
            "suggested_quantity",
            sa.Numeric(precision=20, scale=6),
            nullable=False,
            comment="Units to order (0: none needed)",
        ),
        sa.Column(
            "suggested_value",
            sa.Numeric(precision=20, scale=2),
            nullable=False,
            comment="suggested_quantity × unit cost",
        ),
        sa.Column(
            "days_to_stockout",
            sa.Numeric(precision=20, scale=2),
            nullable=True,
            comment="stock / velocity; NULL without sales",
        ),
        sa.Column(
            "slack_days",
            sa.Numeric(precision=20, scale=2),
            nullable=True,
            comment="days_to_stockout − lead time (<0: too late)",
        ),
        sa.Column(
            "urgency_rank", sa.Integer(), nullable=True, comment="1 = most urgent within the warehouse"
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the slice was written (UTC)",
        ),
        sa.PrimaryKeyConstraint("as_of", "product_id", "warehouse_id"),
        comment="Reorder point and suggested order quantity per product and warehouse, ranked by urgency",
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
