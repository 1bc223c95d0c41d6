"""Tables of the factoring family.

``operations`` (PostgreSQL in production): the cession operations of the BANPRO-style API —
``clientes``, ``facturas``, ``operaciones_cesion``, ``operacion_facturas``, ``operacion_eventos``,
``outbox_events`` — created by the API's own migrations (and by the sandbox builder here); we write
only ``facturas.estado`` (the overdue batch), ``factura_eventos`` and the delivery columns of
``outbox_events``. Additions we need, documented in docs/families/factoring.md:

- ``factura_eventos``: one row per invoice state change made by a batch. ``operacion_eventos`` is keyed
  by operation and an overdue invoice usually belongs to none, so invoices get their own event table.
- ``outbox_events.id``: a monotonic surrogate key (``event_id`` is an opaque string), so the sensor's
  cursor and run keys can be "the highest pending id"; ``next_attempt_at`` (backoff between runs) and
  ``parked_at`` (given up after N failed attempts, with ``last_error`` kept).

``warehouse``: ``factoring_exposure``, created and migrated by ``migrations/warehouse/factoring``.

These are the columns as we *mean* them; the API's real columns may be TIMESTAMP/TIMESTAMPTZ for dates,
DOUBLE for amounts and text of any length, and are read through ``lib.foreign_tables`` (``sql.py``).
"""

from __future__ import annotations

import sqlalchemy as sa

operations = sa.MetaData()
warehouse = sa.MetaData()

# BIGINT ids, but plain INTEGER on SQLite so the column is the rowid (autoincrement).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.Numeric(15, 2, asdecimal=True)
Stamp = sa.DateTime(timezone=True)

clientes = sa.Table(
    "clientes",
    operations,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rut", sa.String(24), nullable=False, comment="As the client typed it; compare normalised"),
    sa.Column("razon_social", sa.String(200), nullable=False),
    sa.Column("linea_credito", Money, nullable=False, comment="Credit line (CLP)"),
    sa.Column("linea_disponible", Money, nullable=False, comment="Line minus open operations"),
    sa.Column("estado", sa.String(20), nullable=False, comment="activo | bloqueado"),
    sa.Column("created_at", Stamp),
)

facturas = sa.Table(
    "facturas",
    operations,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("cliente_id", sa.Integer, sa.ForeignKey("clientes.id"), nullable=False),
    sa.Column("numero_factura", sa.String(40), nullable=False),
    sa.Column("rut_deudor", sa.String(24), nullable=False, comment="The invoiced debtor, as typed"),
    sa.Column("monto_total", Money, nullable=False),
    sa.Column("fecha_emision", sa.Date, nullable=False),
    sa.Column("fecha_vencimiento", sa.Date, nullable=False),
    sa.Column(
        "estado", sa.String(20), nullable=False, comment="disponible|en_proceso|cedida|pagada|vencida|anulada"
    ),
    sa.Column("updated_at", Stamp),
    sa.UniqueConstraint("cliente_id", "numero_factura", name="uq_facturas_cliente_numero"),
    # Deliberately no index on ``estado``: the overdue batch changes it, and with free space on each
    # page (fillfactor below) PostgreSQL then updates the rows in place (HOT) without touching any
    # index — about three times faster than with an (estado, fecha_vencimiento) index. Finding the
    # candidates is one sequential scan, a fraction of a second for a million invoices.
)


def apply_storage_options(conn: sa.Connection) -> None:
    """PostgreSQL storage options for ``facturas`` (whoever creates the table applies them: the API's
    migrations in production, the sandbox here). Takes effect for rows written afterwards."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE facturas SET (fillfactor = 80)"))


operaciones_cesion = sa.Table(
    "operaciones_cesion",
    operations,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cliente_id", sa.Integer, sa.ForeignKey("clientes.id"), nullable=False),
    sa.Column("fecha_solicitud", sa.Date, nullable=False, comment="The operation date used for pricing"),
    sa.Column("monto_total_facturas", Money, nullable=False),
    sa.Column("tasa_descuento", sa.Numeric(5, 2, asdecimal=True), nullable=False, comment="% per 360 days"),
    sa.Column("monto_descuento", Money, nullable=False),
    sa.Column("monto_a_desembolsar", Money, nullable=False),
    sa.Column(
        "estado",
        sa.String(20),
        nullable=False,
        comment="pendiente|aprobada|rechazada|desembolsada|finalizada",
    ),
    sa.Column("created_at", Stamp),
    sa.Index("ix_operaciones_cliente_estado", "cliente_id", "estado"),
)

operacion_facturas = sa.Table(
    "operacion_facturas",
    operations,
    sa.Column("operacion_id", sa.Integer, sa.ForeignKey("operaciones_cesion.id"), primary_key=True),
    sa.Column("factura_id", BigId, sa.ForeignKey("facturas.id"), primary_key=True),
    sa.Index("ix_operacion_facturas_factura", "factura_id"),
)

operacion_eventos = sa.Table(
    "operacion_eventos",
    operations,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("operacion_id", sa.Integer, sa.ForeignKey("operaciones_cesion.id"), nullable=False),
    sa.Column("tipo", sa.String(40), nullable=False),
    sa.Column("estado_anterior", sa.String(20)),
    sa.Column("estado_nuevo", sa.String(20)),
    sa.Column("detalle", sa.Text),
    sa.Column("created_at", Stamp, nullable=False),
)

factura_eventos = sa.Table(
    "factura_eventos",
    operations,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # No foreign key on purpose: the batch inserts these rows from ``facturas`` itself, in the same
    # transaction, and a per-row referential check would cost more than half of the batch.
    sa.Column("factura_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("cliente_id", sa.Integer, nullable=False),
    sa.Column("tipo", sa.String(40), nullable=False, comment="e.g. vencida"),
    sa.Column("estado_anterior", sa.String(20), nullable=False),
    sa.Column("estado_nuevo", sa.String(20), nullable=False),
    sa.Column("fecha_referencia", sa.Date, nullable=False, comment="The Chile date the batch ran for"),
    sa.Column("origen", sa.String(60), nullable=False, comment="Which batch wrote it"),
    sa.Column("run_id", sa.String(64), comment="Dagster run id"),
    sa.Column("created_at", Stamp, nullable=False),
    sa.Index("ix_factura_eventos_factura", "factura_id"),
)

outbox_events = sa.Table(
    "outbox_events",
    operations,
    sa.Column("id", BigId, primary_key=True, autoincrement=True, comment="Monotonic: sensor cursor"),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True, comment="Idempotency-Key"),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", Stamp, nullable=False),
    sa.Column("delivered_at", Stamp, comment="Set right after every endpoint answered 2xx"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", Stamp, comment="Backoff between runs after a failed attempt"),
    sa.Column("parked_at", Stamp, comment="Given up after N failed attempts; last_error says why"),
    sa.Index(
        "ix_outbox_events_pending",
        "id",
        postgresql_where=sa.text("delivered_at IS NULL AND parked_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL AND parked_at IS NULL"),
    ),
)

OPERATIONS_TABLES = (
    clientes,
    facturas,
    operaciones_cesion,
    operacion_facturas,
    operacion_eventos,
    factura_eventos,
    outbox_events,
)

factoring_exposure = sa.Table(
    "factoring_exposure",
    warehouse,
    sa.Column("as_of", sa.Date, nullable=False, comment="Chile date of the snapshot (the partition)"),
    sa.Column("cliente_id", sa.Integer, nullable=False),
    sa.Column("rut", sa.String(14), comment="Canonical NN.NNN.NNN-D; null when the stored RUT is invalid"),
    # Text copied from the API's tables has no length limit here (they may hold any).
    sa.Column("rut_original", sa.Text, nullable=False),
    sa.Column("razon_social", sa.Text, nullable=False),
    sa.Column("estado", sa.Text, nullable=False),
    sa.Column("linea_credito", Money, nullable=False),
    sa.Column("linea_disponible", Money, nullable=False, comment="As stored by the operations API"),
    sa.Column(
        "linea_disponible_esperada",
        Money,
        nullable=False,
        comment="Line minus the open operations' face value",
    ),
    sa.Column(
        "monto_operaciones_abiertas",
        Money,
        nullable=False,
        comment="Face value of the open operations: what the API reserves on the line",
    ),
    sa.Column(
        "monto_cedido_vigente",
        Money,
        nullable=False,
        comment="Unpaid (not pagada/anulada) invoices of open operations; before 2026-12 the face value",
    ),
    sa.Column("operaciones_abiertas", sa.Integer, nullable=False),
    sa.Column("utilizacion", sa.Numeric(9, 4, asdecimal=True), comment="cedido vigente / linea"),
    sa.Column("deudor_principal_rut", sa.Text, comment="The debtor who owes most (canonical RUT)"),
    sa.Column("deudor_principal_monto", Money, nullable=False),
    sa.Column(
        "concentracion_deudor_principal",
        sa.Numeric(9, 4, asdecimal=True),
        comment="Largest debtor's share of cedido vigente",
    ),
    sa.Column("facturas_cedidas_vencidas", sa.Integer, nullable=False),
    sa.Column("monto_cedido_vencido", Money, nullable=False),
    sa.Column("computed_at", Stamp, nullable=False),
    sa.PrimaryKeyConstraint("as_of", "cliente_id"),
)
