"""contifico: nested arrays as child tables (document, movement and journal lines, variant values).

Each child table is keyed by (parent id, 1-based line number) and replaced with its parent. Idempotent,
like the baseline: tables that already exist are left as they are.

Revision ID: contifico_0002
Revises: contifico_0001
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cartera_pipelines.lib.schema import create_table_if_missing

revision = "contifico_0002"
down_revision = "contifico_0001"
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(precision=20, scale=6)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# child table → (parent table, parent endpoint, array, kind)
CHILDREN = {
    "contifico_inventory_movement_lines": (
        "contifico_inventory_movements",
        "movimiento-inventario/",
        "detalles",
        "movement",
    ),
    "contifico_purchases_lines": (
        "contifico_purchases",
        "registro/documento/?tipo_registro=PRO",
        "detalles",
        "document",
    ),
    "contifico_sales_lines": (
        "contifico_sales",
        "registro/documento/?tipo_registro=CLI",
        "detalles",
        "document",
    ),
    "contifico_documents_lines": ("contifico_documents", "documento/", "detalles", "document"),
    "contifico_journal_entry_lines": (
        "contifico_journal_entries",
        "contabilidad/asiento/",
        "detalles",
        "journal",
    ),
    "contifico_variant_values": ("contifico_variants", "variante/", "valores", "variant_value"),
}


def _line_columns(kind: str) -> list[sa.Column]:
    if kind == "variant_value":
        return [sa.Column("value", sa.Text(), nullable=True, comment="The value as text")]
    if kind == "journal":
        return [
            sa.Column("account_id", sa.String(length=32), nullable=True, comment="cuenta_id"),
            sa.Column("cost_center_id", sa.String(length=32), nullable=True, comment="centro_costo_id"),
            sa.Column("debit", AMOUNT, nullable=False, comment="valor when tipo is D, else 0"),
            sa.Column("credit", AMOUNT, nullable=False, comment="valor when tipo is H, else 0"),
        ]
    columns = [
        sa.Column("product_id", sa.String(length=32), nullable=True, comment="producto_id"),
        sa.Column("quantity", AMOUNT, nullable=False, comment="cantidad"),
        sa.Column(
            "price", AMOUNT, nullable=False, comment="precio" + (" (unit cost)" if kind == "movement" else "")
        ),
    ]
    if kind == "document":
        columns += [
            sa.Column("discount", AMOUNT, nullable=True, comment="porcentaje_descuento (or descuento)"),
            sa.Column("tax", AMOUNT, nullable=True, comment="porcentaje_iva"),
        ]
    return columns


def upgrade() -> None:
    for name, (parent, endpoint, array, kind) in CHILDREN.items():
        create_table_if_missing(
            name,
            sa.Column("parent_id", sa.String(length=32), nullable=False, comment=f"{parent}.id"),
            sa.Column("line_number", sa.Integer(), nullable=False, comment=f"1-based position in {array}"),
            *_line_columns(kind),
            sa.Column("raw", JSON, nullable=False, comment="The line as the API returned it"),
            sa.PrimaryKeyConstraint("parent_id", "line_number"),
            comment=f"Contifico {endpoint}: the {array} of {parent}",
        )


def downgrade() -> None:
    raise NotImplementedError("contifico child tables are not downgraded")
