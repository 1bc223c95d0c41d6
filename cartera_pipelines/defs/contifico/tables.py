"""Warehouse tables of the contifico family: one per resource plus ``contifico_sync_state``.

Every resource table has the Contifico id as natural key, the raw JSON, its content hash, the
source's modification time and our bookkeeping (``first_seen_at``, ``fetched_at``, ``deleted_at``),
then the typed columns analysts use (see ``catalog.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cartera_pipelines.defs.contifico.catalog import CATALOG, ContificoResource, TypedField

metadata = sa.MetaData()

AMOUNT = sa.Numeric(20, 6, asdecimal=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

_TYPES: dict[str, sa.types.TypeEngine] = {
    "text": sa.String(300),
    "decimal": AMOUNT,
    "date": sa.Date(),
    "bool": sa.Boolean(),
    "int": sa.Integer(),
}

BOOKKEEPING = ("id", "raw", "content_hash", "source_updated_at", "first_seen_at", "fetched_at", "deleted_at")


def _typed_column(field: TypedField) -> sa.Column:
    comment = f"{field.path}" + (f" ({field.comment})" if field.comment else "")
    return sa.Column(field.column, _TYPES[field.kind], nullable=True, comment=comment)


def _resource_table(resource: ContificoResource) -> sa.Table:
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
    comment="One row per Contifico resource: sync cursor and the last run's figures",
)

ALL_TABLES: tuple[sa.Table, ...] = (*RESOURCE_TABLES.values(), sync_state)
