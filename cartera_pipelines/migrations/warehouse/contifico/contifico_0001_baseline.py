"""contifico: the warehouse tables as they were before migrations (Contifico catalogs, their sync state).

Creates only the tables that are missing, so a warehouse created by earlier code upgrades in place.

Revision ID: contifico_0001
Revises:
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cartera_pipelines.lib.schema import create_table_if_missing

revision = "contifico_0001"
down_revision = None
branch_labels = ("contifico",)
depends_on = None


def upgrade() -> None:
    create_table_if_missing(
        "contifico_bank_accounts",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("name", sa.String(length=300), nullable=True, comment="nombre"),
        sa.Column("account_number", sa.String(length=300), nullable=True, comment="numero"),
        sa.Column("bank", sa.String(length=300), nullable=True, comment="banco"),
        sa.Column("account_type", sa.String(length=300), nullable=True, comment="tipo_cuenta"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico banco/cuenta/: Bank accounts.",
    )
    create_table_if_missing(
        "contifico_bank_movements",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("bank_account_id", sa.String(length=300), nullable=True, comment="cuenta_bancaria_id"),
        sa.Column(
            "document_type", sa.String(length=300), nullable=True, comment="tipo (I income, E expense)"
        ),
        sa.Column("document_number", sa.String(length=300), nullable=True, comment="numero_comprobante"),
        sa.Column("document_date", sa.Date(), nullable=True, comment="fecha"),
        sa.Column("amount", sa.Numeric(precision=20, scale=6), nullable=True, comment="monto"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico banco/movimiento/: Bank movements.",
    )
    create_table_if_missing(
        "contifico_brands",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("name", sa.String(length=300), nullable=True, comment="nombre"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico marca/: Product brands.",
    )
    create_table_if_missing(
        "contifico_categories",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("name", sa.String(length=300), nullable=True, comment="nombre"),
        sa.Column("parent_id", sa.String(length=300), nullable=True, comment="padre_id"),
        sa.Column("product_type", sa.String(length=300), nullable=True, comment="tipo_producto"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico categoria/: Product categories.",
    )
    create_table_if_missing(
        "contifico_chart_of_accounts",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("code", sa.String(length=300), nullable=True, comment="codigo"),
        sa.Column("name", sa.String(length=300), nullable=True, comment="nombre"),
        sa.Column("account_type", sa.String(length=300), nullable=True, comment="tipo"),
        sa.Column("level", sa.Integer(), nullable=True, comment="nivel"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico contabilidad/cuenta-contable/: Chart of accounts (plan de cuentas).",
    )
    create_table_if_missing(
        "contifico_cost_centers",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("code", sa.String(length=300), nullable=True, comment="codigo"),
        sa.Column("name", sa.String(length=300), nullable=True, comment="nombre"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico contabilidad/centro-costo/: Cost centers.",
    )
    create_table_if_missing(
        "contifico_documents",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column(
            "document_type",
            sa.String(length=300),
            nullable=True,
            comment="tipo_documento (FAC, NCT, NDB, LQC, …)",
        ),
        sa.Column(
            "document_number",
            sa.String(length=300),
            nullable=True,
            comment="documento (establecimiento-punto-secuencial)",
        ),
        sa.Column("document_date", sa.Date(), nullable=True, comment="fecha_emision"),
        sa.Column("person_id", sa.String(length=300), nullable=True, comment="persona.id"),
        sa.Column(
            "person_type",
            sa.String(length=300),
            nullable=True,
            comment="persona.tipo (N natural, J jurídica)",
        ),
        sa.Column("person_ruc", sa.String(length=300), nullable=True, comment="persona.ruc"),
        sa.Column("subtotal", sa.Numeric(precision=20, scale=6), nullable=True, comment="subtotal"),
        sa.Column("tax", sa.Numeric(precision=20, scale=6), nullable=True, comment="iva"),
        sa.Column("total", sa.Numeric(precision=20, scale=6), nullable=True, comment="total"),
        sa.Column("status", sa.String(length=300), nullable=True, comment="estado"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico documento/: Electronic documents (invoices, credit notes, quotes) with their lines in the raw JSON.",
    )
    create_table_if_missing(
        "contifico_inventory_movements",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("document_type", sa.String(length=300), nullable=True, comment="tipo (ING or EGR)"),
        sa.Column("document_number", sa.String(length=300), nullable=True, comment="codigo"),
        sa.Column("document_date", sa.Date(), nullable=True, comment="fecha"),
        sa.Column("warehouse_id", sa.String(length=300), nullable=True, comment="bodega_id"),
        sa.Column("total", sa.Numeric(precision=20, scale=6), nullable=True, comment="total"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico movimiento-inventario/: Inventory movements (ING entries, EGR exits) with their lines in the raw JSON.",
    )
    create_table_if_missing(
        "contifico_journal_entries",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("document_number", sa.String(length=300), nullable=True, comment="numero"),
        sa.Column("document_date", sa.Date(), nullable=True, comment="fecha"),
        sa.Column("description", sa.String(length=300), nullable=True, comment="glosa"),
        sa.Column("total_debit", sa.Numeric(precision=20, scale=6), nullable=True, comment="total_debe"),
        sa.Column("total_credit", sa.Numeric(precision=20, scale=6), nullable=True, comment="total_haber"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico contabilidad/asiento/: Journal entries (asientos) with their lines in the raw JSON.",
    )
    create_table_if_missing(
        "contifico_persons",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column(
            "person_type", sa.String(length=300), nullable=True, comment="tipo (N natural, J jurídica)"
        ),
        sa.Column("ruc", sa.String(length=300), nullable=True, comment="ruc"),
        sa.Column("cedula", sa.String(length=300), nullable=True, comment="cedula"),
        sa.Column("name", sa.String(length=300), nullable=True, comment="razon_social"),
        sa.Column("trade_name", sa.String(length=300), nullable=True, comment="nombre_comercial"),
        sa.Column("is_client", sa.Boolean(), nullable=True, comment="es_cliente"),
        sa.Column("is_supplier", sa.Boolean(), nullable=True, comment="es_proveedor"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico persona/: Clients, suppliers and employees (personas).",
    )
    create_table_if_missing(
        "contifico_products",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("code", sa.String(length=300), nullable=True, comment="codigo"),
        sa.Column("name", sa.String(length=300), nullable=True, comment="nombre"),
        sa.Column("category_id", sa.String(length=300), nullable=True, comment="categoria_id"),
        sa.Column("brand_id", sa.String(length=300), nullable=True, comment="marca_id"),
        sa.Column("product_type", sa.String(length=300), nullable=True, comment="tipo"),
        sa.Column("status", sa.String(length=300), nullable=True, comment="estado"),
        sa.Column("price_1", sa.Numeric(precision=20, scale=6), nullable=True, comment="pvp1 (PVP 1)"),
        sa.Column("price_2", sa.Numeric(precision=20, scale=6), nullable=True, comment="pvp2 (PVP 2)"),
        sa.Column("cost", sa.Numeric(precision=20, scale=6), nullable=True, comment="costo_maximo"),
        sa.Column("stock", sa.Numeric(precision=20, scale=6), nullable=True, comment="cantidad_stock"),
        sa.Column("minimum_stock", sa.Numeric(precision=20, scale=6), nullable=True, comment="minimo"),
        sa.Column("tax_rate", sa.Numeric(precision=20, scale=6), nullable=True, comment="porcentaje_iva"),
        sa.Column("created_date", sa.Date(), nullable=True, comment="fecha_creacion"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico producto/: Products and services with prices and stock.",
    )
    create_table_if_missing(
        "contifico_purchases",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column(
            "document_type",
            sa.String(length=300),
            nullable=True,
            comment="tipo_documento (FAC, NCT, NDB, LQC, …)",
        ),
        sa.Column(
            "document_number",
            sa.String(length=300),
            nullable=True,
            comment="documento (establecimiento-punto-secuencial)",
        ),
        sa.Column("document_date", sa.Date(), nullable=True, comment="fecha_emision"),
        sa.Column("person_id", sa.String(length=300), nullable=True, comment="persona.id"),
        sa.Column(
            "person_type",
            sa.String(length=300),
            nullable=True,
            comment="persona.tipo (N natural, J jurídica)",
        ),
        sa.Column("person_ruc", sa.String(length=300), nullable=True, comment="persona.ruc"),
        sa.Column("subtotal", sa.Numeric(precision=20, scale=6), nullable=True, comment="subtotal"),
        sa.Column("tax", sa.Numeric(precision=20, scale=6), nullable=True, comment="iva"),
        sa.Column("total", sa.Numeric(precision=20, scale=6), nullable=True, comment="total"),
        sa.Column("status", sa.String(length=300), nullable=True, comment="estado"),
        sa.Column("balance", sa.Numeric(precision=20, scale=6), nullable=True, comment="saldo"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico registro/documento/?tipo_registro=PRO: Purchase documents registered from suppliers (tipo_registro=PRO).",
    )
    create_table_if_missing(
        "contifico_registry_transactions",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("document_id", sa.String(length=300), nullable=True, comment="registro_id"),
        sa.Column("transaction_type", sa.String(length=300), nullable=True, comment="tipo"),
        sa.Column("document_date", sa.Date(), nullable=True, comment="fecha"),
        sa.Column("amount", sa.Numeric(precision=20, scale=6), nullable=True, comment="monto"),
        sa.Column("bank_account_id", sa.String(length=300), nullable=True, comment="cuenta_bancaria_id"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico registro/transaccion/: Payments and collections applied to registered documents.",
    )
    create_table_if_missing(
        "contifico_remission_guides",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("document_number", sa.String(length=300), nullable=True, comment="numero_documento"),
        sa.Column("document_date", sa.Date(), nullable=True, comment="fecha_emision"),
        sa.Column("person_id", sa.String(length=300), nullable=True, comment="destinatario.id"),
        sa.Column("warehouse_id", sa.String(length=300), nullable=True, comment="bodega_id"),
        sa.Column("status", sa.String(length=300), nullable=True, comment="estado"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico inventario/guia/: Remission guides (guías de remisión).",
    )
    create_table_if_missing(
        "contifico_sales",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column(
            "document_type",
            sa.String(length=300),
            nullable=True,
            comment="tipo_documento (FAC, NCT, NDB, LQC, …)",
        ),
        sa.Column(
            "document_number",
            sa.String(length=300),
            nullable=True,
            comment="documento (establecimiento-punto-secuencial)",
        ),
        sa.Column("document_date", sa.Date(), nullable=True, comment="fecha_emision"),
        sa.Column("person_id", sa.String(length=300), nullable=True, comment="persona.id"),
        sa.Column(
            "person_type",
            sa.String(length=300),
            nullable=True,
            comment="persona.tipo (N natural, J jurídica)",
        ),
        sa.Column("person_ruc", sa.String(length=300), nullable=True, comment="persona.ruc"),
        sa.Column("subtotal", sa.Numeric(precision=20, scale=6), nullable=True, comment="subtotal"),
        sa.Column("tax", sa.Numeric(precision=20, scale=6), nullable=True, comment="iva"),
        sa.Column("total", sa.Numeric(precision=20, scale=6), nullable=True, comment="total"),
        sa.Column("status", sa.String(length=300), nullable=True, comment="estado"),
        sa.Column("balance", sa.Numeric(precision=20, scale=6), nullable=True, comment="saldo"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico registro/documento/?tipo_registro=CLI: Sales documents registered for clients (tipo_registro=CLI).",
    )
    create_table_if_missing(
        "contifico_sync_state",
        sa.Column("resource", sa.String(length=40), nullable=False),
        sa.Column("endpoint", sa.String(length=120), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False, comment="incremental or full"),
        sa.Column(
            "cursor_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Start of the last successful sync: the next incremental reads from here minus the overlap",
        ),
        sa.Column("last_full_scan_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=12), nullable=True, comment="success or failed"),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=True),
        sa.Column("new", sa.Integer(), nullable=True),
        sa.Column("changed", sa.Integer(), nullable=True),
        sa.Column("unchanged", sa.Integer(), nullable=True),
        sa.Column("deleted", sa.Integer(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.PrimaryKeyConstraint("resource"),
        comment="One row per Contifico resource: sync cursor and the last run's figures",
    )
    create_table_if_missing(
        "contifico_variants",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("name", sa.String(length=300), nullable=True, comment="nombre"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico variante/: Product variants (size, colour…).",
    )
    create_table_if_missing(
        "contifico_warehouses",
        sa.Column("id", sa.String(length=32), nullable=False, comment="Contifico id (natural key)"),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The record as the API returned it",
        ),
        sa.Column(
            "content_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the canonical raw JSON"
        ),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When we first fetched the record (UTC)",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the stored version was fetched (UTC)",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a full scan no longer returned it (UTC)",
        ),
        sa.Column("code", sa.String(length=300), nullable=True, comment="codigo"),
        sa.Column("name", sa.String(length=300), nullable=True, comment="nombre"),
        sa.Column("sells", sa.Boolean(), nullable=True, comment="venta"),
        sa.PrimaryKeyConstraint("id"),
        comment="Contifico bodega/: Warehouses (bodegas).",
    )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not downgraded")
