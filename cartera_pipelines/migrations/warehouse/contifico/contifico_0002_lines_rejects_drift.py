"""contifico: child tables, rejects, schema drift, text of any length, readable counts (issue #14).

- Nested arrays as child tables (document, movement and journal lines, variant values), keyed by
  (parent id, 1-based line number) and replaced with their parent.
- ``contifico_rejects`` (records that could not be typed) and ``contifico_schema_drift`` (fields the
  catalog does not know).
- Every ``VARCHAR(300)`` column of the resource tables becomes ``TEXT`` (a 450-character ``glosa``
  failed the page on PostgreSQL).
- ``contifico_sync_state`` gains the counts a user asks first: records without ``fecha_modificacion``,
  rejects, drift fields, deletions skipped and why.

Idempotent, like the baseline: what already has the new shape is left as it is.

Revision ID: contifico_0002
Revises: contifico_0001
"""

import sqlalchemy as sa
from alembic import op
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
    _rejects_and_drift()
    _state_counts()
    _text_columns()


TIMESTAMP = sa.DateTime(timezone=True)
STATE_COLUMNS = (
    (
        "without_modified",
        sa.Integer(),
        "Records without a readable fecha_modificacion (only full scans see their changes)",
    ),
    ("rejected", sa.Integer(), "Records that could not be typed (contifico_rejects)"),
    ("drift_fields", sa.Integer(), "Fields the catalog does not know, seen this run"),
    ("deletions_skipped", sa.Integer(), "Live rows a full scan did not see but did not mark deleted"),
    ("deletions_skipped_reason", sa.Text(), "Why the deletion marks were skipped"),
)


def _rejects_and_drift() -> None:
    create_table_if_missing(
        "contifico_rejects",
        sa.Column("resource", sa.String(length=40), nullable=False, comment="Catalog entry (table suffix)"),
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id of the record"),
        sa.Column(
            "field",
            sa.Text(),
            nullable=False,
            comment="The field that could not be typed (lines: detalles[2].cantidad)",
        ),
        sa.Column("value", sa.Text(), nullable=True, comment="Its value, as JSON"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", JSON, nullable=False, comment="The record as the API returned it"),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("resource", "id"),
        comment="Records that could not be typed; a record leaves when a later sync reads it cleanly",
    )
    create_table_if_missing(
        "contifico_schema_drift",
        sa.Column("resource", sa.String(length=40), nullable=False, comment="Catalog entry (table suffix)"),
        sa.Column(
            "field",
            sa.String(length=200),
            nullable=False,
            comment="Top-level field the catalog does not know",
        ),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column(
            "example", sa.Text(), nullable=True, comment="A value seen, as JSON (first 500 characters)"
        ),
        sa.PrimaryKeyConstraint("resource", "field"),
        comment="Fields the API sends that the catalog does not know: candidates for typed columns",
    )


def _state_counts() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("contifico_sync_state")}
    missing = [c for c in STATE_COLUMNS if c[0] not in present]
    if missing:
        with op.batch_alter_table("contifico_sync_state") as batch:
            for name, kind, comment in missing:
                batch.add_column(sa.Column(name, kind, nullable=True, comment=comment))


def _text_columns() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in sorted(inspector.get_table_names()):
        if not table.startswith("contifico_"):
            continue
        narrow = [
            c
            for c in inspector.get_columns(table)
            if isinstance(c["type"], sa.String) and getattr(c["type"], "length", None) == 300
        ]
        if not narrow:
            continue
        with op.batch_alter_table(table) as batch:
            for column in narrow:
                batch.alter_column(
                    column["name"],
                    existing_type=column["type"],
                    type_=sa.Text(),
                    existing_nullable=column["nullable"],
                    existing_comment=column.get("comment"),
                )


def downgrade() -> None:
    raise NotImplementedError("contifico_0002 is not downgraded")
