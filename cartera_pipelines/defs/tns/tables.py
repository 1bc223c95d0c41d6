"""Tables of the tns family: the TNS source schema (read-only, Firebird) and our warehouse tables."""

from __future__ import annotations

import sqlalchemy as sa

warehouse = sa.MetaData()

tns_inventory_movements = sa.Table(
    "tns_inventory_movements",
    warehouse,
    sa.Column("company_year", sa.String(64), nullable=False, comment="Partition key: <NIT>_<ANOFIS>"),
    sa.Column(
        "company_nit", sa.String(20), nullable=False, comment="Company NIT, digits only, no check digit"
    ),
    sa.Column("fiscal_year", sa.Integer, nullable=False, comment="ANOFIS"),
    sa.Column("company_code", sa.String(20), nullable=False, comment="EMPRESAS.CODIGO"),
    sa.Column("kardex_id", sa.BigInteger, nullable=False),
    sa.Column("dekardex_id", sa.BigInteger, nullable=False),
    sa.Column("document_type", sa.String(24), nullable=False, comment="FACTURA_VENTA, DEVOLUCION_VENTA, …"),
    sa.Column(
        "document_code", sa.String(4), nullable=False, comment="CODCOMP as in TNS (FV, DV, FC, DC, RE)"
    ),
    sa.Column("prefix", sa.String(10)),
    sa.Column("number", sa.String(20)),
    sa.Column("movement_date", sa.Date, nullable=False),
    sa.Column("article_code", sa.String(40), nullable=False),
    sa.Column("article_name", sa.String(200)),
    sa.Column("warehouse_code", sa.String(20)),
    sa.Column("warehouse_name", sa.String(120)),
    sa.Column(
        "third_party_nit", sa.String(30), comment="TERCEROS.NIT as written in TNS (up to 30 characters)"
    ),
    sa.Column("third_party_name", sa.String(200)),
    sa.Column("quantity", sa.Numeric(18, 4), nullable=False),
    sa.Column("unit_price_base", sa.Numeric(18, 4)),
    sa.Column("unit_price_tax", sa.Numeric(18, 4)),
    sa.Column("unit_price_net", sa.Numeric(18, 4)),
    sa.Column("discount", sa.Numeric(18, 4)),
    sa.Column("line_total", sa.Numeric(18, 2), nullable=False, comment="PARCVTA: the line's value"),
    sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("company_year", "dekardex_id"),
)

# ---------------------------------------------------------------------------------------------
# Our other warehouse tables.

tns_companies = sa.Table(
    "tns_companies",
    warehouse,
    sa.Column("company_year", sa.String(64), primary_key=True, comment="Partition key: <NIT>_<ANOFIS>"),
    sa.Column("nit", sa.String(20), nullable=False, comment="Digits only, without the check digit"),
    sa.Column(
        "check_digit",
        sa.String(1),
        nullable=False,
        comment="DIAN modulo-11 check digit computed from the NIT",
    ),
    sa.Column(
        "source_check_digit", sa.String(1), comment="Check digit as written in EMPRESAS.NIT (NULL if absent)"
    ),
    sa.Column(
        "nit_status", sa.String(24), nullable=False, comment="valid | invalid_check_digit | no_check_digit"
    ),
    sa.Column("nit_raw", sa.String(40), nullable=False, comment="EMPRESAS.NIT as written in TNS"),
    sa.Column("fiscal_year", sa.Integer, nullable=False, comment="EMPRESAS.ANOFIS"),
    sa.Column("company_code", sa.String(20), nullable=False, comment="EMPRESAS.CODIGO"),
    sa.Column("company_name", sa.String(200), comment="EMPRESAS.NOMBRE"),
    sa.Column(
        "server", sa.String(64), nullable=False, comment="Name of the TNS server holding this company-year"
    ),
    sa.Column(
        "archivo", sa.String(500), nullable=False, comment="EMPRESAS.ARCHIVO: the company-year database"
    ),
    sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("nit", "fiscal_year", name="uq_tns_companies_nit_year"),
)

tns_company_duplicates = sa.Table(
    "tns_company_duplicates",
    warehouse,
    sa.Column(
        "company_year",
        sa.String(64),
        nullable=False,
        comment="The (NIT, ANOFIS) found on more than one server",
    ),
    sa.Column("server", sa.String(64), nullable=False, comment="Server whose copy was NOT loaded"),
    sa.Column("archivo", sa.String(500), nullable=False),
    sa.Column("company_code", sa.String(20)),
    sa.Column("company_name", sa.String(200)),
    sa.Column(
        "kept_server",
        sa.String(64),
        nullable=False,
        comment="Server whose copy is loaded (first in the servers file)",
    ),
    sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("company_year", "server", "archivo"),
)

api_keys = sa.Table(
    "api_keys",
    warehouse,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "prefix",
        sa.String(16),
        nullable=False,
        unique=True,
        comment="First characters of the key, to recognise it",
    ),
    sa.Column(
        "key_hash",
        sa.String(64),
        nullable=False,
        unique=True,
        comment="SHA-256 (hex) of the whole key; the key itself is never stored",
    ),
    sa.Column("nit", sa.String(20), nullable=False, comment="Tenant NIT, digits only"),
    sa.Column("client_name", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, comment="UTC"),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, comment="UTC"),
    sa.Column("revoked_at", sa.DateTime(timezone=True), comment="UTC; set by revoke or by expiry"),
)

api_key_companies = sa.Table(
    "api_key_companies",
    warehouse,
    sa.Column("api_key_id", sa.Integer, nullable=False, comment="api_keys.id"),
    sa.Column("key_prefix", sa.String(16), nullable=False),
    sa.Column("nit", sa.String(20), nullable=False),
    sa.Column("company_year", sa.String(64), nullable=False, comment="tns_companies.company_year"),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("api_key_id", "company_year"),
)

# ---------------------------------------------------------------------------------------------
# The TNS source schema (Firebird, read-only). Defined once: the extraction reads these names and
# the sandbox creates exactly these tables in SQLite and in Firebird.

source = sa.MetaData()

EMPRESAS = sa.Table(
    "EMPRESAS",
    source,
    sa.Column("CODIGO", sa.String(10), primary_key=True),
    sa.Column("NOMBRE", sa.String(120)),
    sa.Column("NIT", sa.String(30)),
    sa.Column("ANOFIS", sa.Integer),
    sa.Column("ARCHIVO", sa.String(255)),
)

KARDEX = sa.Table(
    "KARDEX",
    source,
    sa.Column("KARDEXID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("CODCOMP", sa.String(4), nullable=False),
    sa.Column("CODPREFIJO", sa.String(10)),
    sa.Column("NUMERO", sa.String(20)),
    sa.Column("FECHA", sa.Date, nullable=False),
    sa.Column("CLIENTE", sa.Integer),
    sa.Column("FECASENTAD", sa.Date),
    sa.Column("FECANULADO", sa.Date),
)

DEKARDEX = sa.Table(
    "DEKARDEX",
    source,
    sa.Column("DEKARDEXID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("KARDEXID", sa.Integer, nullable=False),
    sa.Column("MATID", sa.Integer, nullable=False),
    sa.Column("BODID", sa.Integer),
    sa.Column("CANMAT", sa.Numeric(18, 4), nullable=False),
    sa.Column("PRECIOBASE", sa.Numeric(18, 4)),
    sa.Column("PRECIOIVA", sa.Numeric(18, 4)),
    sa.Column("PRECIONETO", sa.Numeric(18, 4)),
    sa.Column("PARCVTA", sa.Numeric(18, 2)),
    sa.Column("DESCUENTO", sa.Numeric(18, 4)),
    sa.Index("IX_DEKARDEX_KARDEXID", "KARDEXID"),
)

MATERIAL = sa.Table(
    "MATERIAL",
    source,
    sa.Column("MATID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("CODIGO", sa.String(40), nullable=False),
    sa.Column("DESCRIP", sa.String(200)),
)

BODEGA = sa.Table(
    "BODEGA",
    source,
    sa.Column("BODID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("CODIGO", sa.String(20), nullable=False),
    sa.Column("NOMBRE", sa.String(120)),
)

TERCEROS = sa.Table(
    "TERCEROS",
    source,
    sa.Column("TERID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("NIT", sa.String(30)),
    sa.Column("NOMBRE", sa.String(200)),
)

ADMIN_TABLES = (EMPRESAS,)
COMPANY_TABLES = (MATERIAL, BODEGA, TERCEROS, KARDEX, DEKARDEX)
