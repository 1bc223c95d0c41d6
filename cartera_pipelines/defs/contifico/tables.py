"""Warehouse tables of the contifico family: one per resource, one per nested array (the child tables,
keyed by parent id and line number) plus ``contifico_sync_state``.

Every resource table has the Contifico id as natural key, the raw JSON, its content hash, the
source's modification time and our bookkeeping (``first_seen_at``, ``fetched_at``, ``deleted_at``),
then the typed columns analysts use (see ``catalog.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cartera_pipelines.defs.contifico.catalog import (
    CATALOG,
    CatalogEntry,
    ChildTable,
    LineKind,
    TypedField,
)

metadata = sa.MetaData()

AMOUNT = sa.Numeric(20, 6, asdecimal=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

_TYPES: dict[str, sa.types.TypeEngine] = {
    "text": sa.Text(),  # the API's texts have no length limit we could rely on
    "decimal": AMOUNT,
    "date": sa.Date(),
    "bool": sa.Boolean(),
    "int": sa.Integer(),
}


def _typed_column(field: TypedField) -> sa.Column:
    comment = f"{field.path}" + (f" ({field.comment})" if field.comment else "")
    return sa.Column(field.column, _TYPES[field.kind], nullable=True, comment=comment)


def _resource_table(resource: CatalogEntry) -> sa.Table:
    return sa.Table(
        resource.table_name,
        metadata,
        sa.Column("id", sa.String(32), primary_key=True, comment="Contifico id (natural key)"),
        sa.Column("raw", JSON, nullable=False, comment="The record as the API returned it"),
        sa.Column("content_hash", sa.String(64), nullable=False, comment="SHA-256 of the canonical raw JSON"),
        sa.Column(
            "source_updated_at",
            sa.DateTime(),
            nullable=True,
            comment="fecha_modificacion (Contifico local time)",
        ),
        sa.Column(
            "first_seen_at", TIMESTAMP, nullable=False, comment="When we first fetched the record (UTC)"
        ),
        sa.Column(
            "fetched_at", TIMESTAMP, nullable=False, comment="When the stored version was fetched (UTC)"
        ),
        sa.Column(
            "deleted_at", TIMESTAMP, nullable=True, comment="When a full scan no longer returned it (UTC)"
        ),
        *(_typed_column(f) for f in resource.fields),
        comment=f"Contifico {resource.display_endpoint}: {resource.description}",
    )


RESOURCE_TABLES: dict[str, sa.Table] = {r.name: _resource_table(r) for r in CATALOG}


def _line_columns(kind: LineKind) -> list[sa.Column]:
    if kind == "variant_value":
        return [sa.Column("value", sa.Text(), nullable=True, comment="The value as text")]
    if kind == "journal":
        return [
            sa.Column("account_id", sa.String(32), nullable=True, comment="cuenta_id"),
            sa.Column("cost_center_id", sa.String(32), nullable=True, comment="centro_costo_id"),
            sa.Column("debit", AMOUNT, nullable=False, comment="valor when tipo is D, else 0"),
            sa.Column("credit", AMOUNT, nullable=False, comment="valor when tipo is H, else 0"),
        ]
    columns = [
        sa.Column("product_id", sa.String(32), nullable=True, comment="producto_id"),
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


def child_table(parent: CatalogEntry, child: ChildTable) -> sa.Table:
    """The table of one nested array: (parent id, 1-based position in the array) → typed line."""
    return sa.Table(
        child.table_name,
        metadata,
        sa.Column("parent_id", sa.String(32), primary_key=True, comment=f"{parent.table_name}.id"),
        sa.Column(
            "line_number", sa.Integer(), primary_key=True, comment=f"1-based position in {child.array}"
        ),
        *_line_columns(child.kind),
        sa.Column("raw", JSON, nullable=False, comment="The line as the API returned it"),
        comment=f"Contifico {parent.display_endpoint}: the {child.array} of {parent.table_name}",
    )


CHILD_TABLES: dict[str, sa.Table] = {
    child.name: child_table(r, child) for r in CATALOG for child in r.children
}

sync_state = sa.Table(
    "contifico_sync_state",
    metadata,
    sa.Column("resource", sa.String(40), primary_key=True),
    sa.Column("endpoint", sa.String(120), nullable=False),
    sa.Column("mode", sa.String(12), nullable=False, comment="incremental or full"),
    sa.Column(
        "cursor_at",
        TIMESTAMP,
        nullable=True,
        comment="Start of the last successful sync: the next incremental reads from here minus the overlap",
    ),
    sa.Column("last_full_scan_at", TIMESTAMP, nullable=True),
    sa.Column("last_started_at", TIMESTAMP, nullable=True),
    sa.Column("last_finished_at", TIMESTAMP, nullable=True),
    sa.Column("last_status", sa.String(12), nullable=True, comment="success or failed"),
    sa.Column("last_error", sa.String(1000), nullable=True),
    sa.Column("fetched", sa.Integer, nullable=True),
    sa.Column("new", sa.Integer, nullable=True),
    sa.Column("changed", sa.Integer, nullable=True),
    sa.Column("unchanged", sa.Integer, nullable=True),
    sa.Column("deleted", sa.Integer, nullable=True),
    sa.Column("pages", sa.Integer, nullable=True),
    sa.Column("retries", sa.Integer, nullable=True),
    sa.Column("seconds", sa.Numeric(12, 3, asdecimal=True), nullable=True),
    sa.Column(
        "without_modified",
        sa.Integer,
        nullable=True,
        comment="Records without a readable fecha_modificacion (only full scans see their changes)",
    ),
    sa.Column(
        "rejected", sa.Integer, nullable=True, comment="Records that could not be typed (contifico_rejects)"
    ),
    sa.Column(
        "drift_fields", sa.Integer, nullable=True, comment="Fields the catalog does not know, seen this run"
    ),
    sa.Column(
        "deletions_skipped",
        sa.Integer,
        nullable=True,
        comment="Live rows a full scan did not see but did not mark deleted",
    ),
    sa.Column(
        "deletions_skipped_reason", sa.Text, nullable=True, comment="Why the deletion marks were skipped"
    ),
    comment="One row per Contifico resource: sync cursor and the last run's figures",
)

rejects = sa.Table(
    "contifico_rejects",
    metadata,
    sa.Column("resource", sa.String(40), primary_key=True, comment="Catalog entry (table suffix)"),
    sa.Column("id", sa.String(32), primary_key=True, comment="Contifico id of the record"),
    sa.Column(
        "field",
        sa.Text,
        nullable=False,
        comment="The field that could not be typed (lines: detalles[2].cantidad)",
    ),
    sa.Column("value", sa.Text, nullable=True, comment="Its value, as JSON"),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", JSON, nullable=False, comment="The record as the API returned it"),
    sa.Column("first_seen_at", TIMESTAMP, nullable=False),
    sa.Column("last_seen_at", TIMESTAMP, nullable=False),
    comment="Records that could not be typed; a record leaves when a later sync reads it cleanly",
)

schema_drift = sa.Table(
    "contifico_schema_drift",
    metadata,
    sa.Column("resource", sa.String(40), primary_key=True, comment="Catalog entry (table suffix)"),
    sa.Column("field", sa.String(200), primary_key=True, comment="Top-level field the catalog does not know"),
    sa.Column("first_seen_at", TIMESTAMP, nullable=False),
    sa.Column("last_seen_at", TIMESTAMP, nullable=False),
    sa.Column("example", sa.Text, nullable=True, comment="A value seen, as JSON (first 500 characters)"),
    comment="Fields the API sends that the catalog does not know: candidates for typed columns",
)

ALL_TABLES: tuple[sa.Table, ...] = (
    *RESOURCE_TABLES.values(),
    *CHILD_TABLES.values(),
    sync_state,
    rejects,
    schema_drift,
)
