"""tns: the warehouse tables as they were before migrations (TNS companies, duplicates, inventory movements, API keys).

Creates only the tables that are missing, so a warehouse created by earlier code upgrades in place.

Revision ID: tns_0001
Revises:
"""

import sqlalchemy as sa

from cartera_pipelines.lib.schema import create_table_if_missing

revision = "tns_0001"
down_revision = None
branch_labels = ("tns",)
depends_on = None


def upgrade() -> None:
    create_table_if_missing(
        "api_key_companies",
        sa.Column("api_key_id", sa.Integer(), nullable=False, comment="api_keys.id"),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("nit", sa.String(length=20), nullable=False),
        sa.Column("company_year", sa.String(length=64), nullable=False, comment="tns_companies.company_year"),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("api_key_id", "company_year"),
    )
    create_table_if_missing(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "prefix",
            sa.String(length=16),
            nullable=False,
            comment="First characters of the key, to recognise it",
        ),
        sa.Column(
            "key_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 (hex) of the whole key; the key itself is never stored",
        ),
        sa.Column("nit", sa.String(length=20), nullable=False, comment="Tenant NIT, digits only"),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, comment="UTC"),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, comment="UTC"),
        sa.Column(
            "revoked_at", sa.DateTime(timezone=True), nullable=True, comment="UTC; set by revoke or by expiry"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
        sa.UniqueConstraint("prefix"),
    )
    create_table_if_missing(
        "tns_companies",
        sa.Column(
            "company_year", sa.String(length=64), nullable=False, comment="Partition key: <NIT>_<ANOFIS>"
        ),
        sa.Column(
            "nit", sa.String(length=20), nullable=False, comment="Digits only, without the check digit"
        ),
        sa.Column(
            "check_digit",
            sa.String(length=1),
            nullable=False,
            comment="DIAN modulo-11 check digit computed from the NIT",
        ),
        sa.Column(
            "source_check_digit",
            sa.String(length=1),
            nullable=True,
            comment="Check digit as written in EMPRESAS.NIT (NULL if absent)",
        ),
        sa.Column(
            "nit_status",
            sa.String(length=24),
            nullable=False,
            comment="valid | invalid_check_digit | no_check_digit",
        ),
        sa.Column("nit_raw", sa.String(length=40), nullable=False, comment="EMPRESAS.NIT as written in TNS"),
        sa.Column("fiscal_year", sa.Integer(), nullable=False, comment="EMPRESAS.ANOFIS"),
        sa.Column("company_code", sa.String(length=20), nullable=False, comment="EMPRESAS.CODIGO"),
        sa.Column("company_name", sa.String(length=200), nullable=True, comment="EMPRESAS.NOMBRE"),
        sa.Column(
            "server",
            sa.String(length=64),
            nullable=False,
            comment="Name of the TNS server holding this company-year",
        ),
        sa.Column(
            "archivo",
            sa.String(length=500),
            nullable=False,
            comment="EMPRESAS.ARCHIVO: the company-year database",
        ),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("company_year"),
        sa.UniqueConstraint("nit", "fiscal_year", name="uq_tns_companies_nit_year"),
    )
    create_table_if_missing(
        "tns_company_duplicates",
        sa.Column(
            "company_year",
            sa.String(length=64),
            nullable=False,
            comment="The (NIT, ANOFIS) found on more than one server",
        ),
        sa.Column("server", sa.String(length=64), nullable=False, comment="Server whose copy was NOT loaded"),
        sa.Column("archivo", sa.String(length=500), nullable=False),
        sa.Column("company_code", sa.String(length=20), nullable=True),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column(
            "kept_server",
            sa.String(length=64),
            nullable=False,
            comment="Server whose copy is loaded (first in the servers file)",
        ),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("company_year", "server", "archivo"),
    )
    create_table_if_missing(
        "tns_inventory_movements",
        sa.Column(
            "company_year", sa.String(length=64), nullable=False, comment="Partition key: <NIT>_<ANOFIS>"
        ),
        sa.Column(
            "company_nit",
            sa.String(length=20),
            nullable=False,
            comment="Company NIT, digits only, no check digit",
        ),
        sa.Column("fiscal_year", sa.Integer(), nullable=False, comment="ANOFIS"),
        sa.Column("company_code", sa.String(length=20), nullable=False, comment="EMPRESAS.CODIGO"),
        sa.Column("kardex_id", sa.BigInteger(), nullable=False),
        sa.Column("dekardex_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "document_type",
            sa.String(length=24),
            nullable=False,
            comment="FACTURA_VENTA, DEVOLUCION_VENTA, …",
        ),
        sa.Column(
            "document_code",
            sa.String(length=4),
            nullable=False,
            comment="CODCOMP as in TNS (FV, DV, FC, DC, RE)",
        ),
        sa.Column("prefix", sa.String(length=10), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("movement_date", sa.Date(), nullable=False),
        sa.Column("article_code", sa.String(length=40), nullable=False),
        sa.Column("article_name", sa.String(length=200), nullable=True),
        sa.Column("warehouse_code", sa.String(length=20), nullable=True),
        sa.Column("warehouse_name", sa.String(length=120), nullable=True),
        sa.Column("third_party_nit", sa.String(length=20), nullable=True),
        sa.Column("third_party_name", sa.String(length=200), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit_price_base", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("unit_price_tax", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("unit_price_net", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("discount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column(
            "line_total",
            sa.Numeric(precision=18, scale=2),
            nullable=False,
            comment="PARCVTA: the line's value",
        ),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("company_year", "dekardex_id"),
    )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not downgraded")
