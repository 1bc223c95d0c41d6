"""Tables of the tns family: the TNS source schema (read-only, Firebird) and our warehouse tables."""

from __future__ import annotations

import sqlalchemy as sa

warehouse = sa.MetaData()

tns_inventory_movements = sa.Table(
    "tns_inventory_movements",
    warehouse,
    sa.Column("company_year", sa.String(64), nullable=False, comment="Partition key: <NIT>_<ANOFIS>"),
    sa.Column("company_nit", sa.String(20), nullable=False, comment="Company NIT, digits only, no check digit"),
    sa.Column("fiscal_year", sa.Integer, nullable=False, comment="ANOFIS"),
    sa.Column("company_code", sa.String(20), nullable=False, comment="EMPRESAS.CODIGO"),
    sa.Column("kardex_id", sa.BigInteger, nullable=False),
    sa.Column("dekardex_id", sa.BigInteger, nullable=False),
    sa.Column("document_type", sa.String(24), nullable=False, comment="FACTURA_VENTA, DEVOLUCION_VENTA, …"),
    sa.Column("document_code", sa.String(4), nullable=False, comment="CODCOMP as in TNS (FV, DV, FC, DC, RE)"),
    sa.Column("prefix", sa.String(10)),
    sa.Column("number", sa.String(20)),
    sa.Column("movement_date", sa.Date, nullable=False),
    sa.Column("article_code", sa.String(40), nullable=False),
    sa.Column("article_name", sa.String(200)),
    sa.Column("warehouse_code", sa.String(20)),
    sa.Column("warehouse_name", sa.String(120)),
    sa.Column("third_party_nit", sa.String(20)),
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
