"""factoring: the warehouse tables as they were before migrations (factoring exposure snapshots).

Creates only the tables that are missing, so a warehouse created by earlier code upgrades in place.

Revision ID: factoring_0001
Revises:
"""

import sqlalchemy as sa

from cartera_pipelines.lib.schema import create_table_if_missing

revision = "factoring_0001"
down_revision = None
branch_labels = ("factoring",)
depends_on = None


def upgrade() -> None:
    create_table_if_missing(
        "factoring_exposure",
        sa.Column("as_of", sa.Date(), nullable=False, comment="Chile date of the snapshot"),
        sa.Column("cliente_id", sa.Integer(), nullable=False),
        sa.Column(
            "rut",
            sa.String(length=14),
            nullable=True,
            comment="Canonical NN.NNN.NNN-D; null when the stored RUT is invalid",
        ),
        sa.Column("rut_original", sa.String(length=24), nullable=False),
        sa.Column("razon_social", sa.String(length=200), nullable=False),
        sa.Column("estado", sa.String(length=20), nullable=False),
        sa.Column("linea_credito", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column(
            "linea_disponible",
            sa.Numeric(precision=15, scale=2),
            nullable=False,
            comment="As stored by the operations API",
        ),
        sa.Column(
            "linea_disponible_esperada",
            sa.Numeric(precision=15, scale=2),
            nullable=False,
            comment="Line minus open operations",
        ),
        sa.Column(
            "monto_cedido_vigente",
            sa.Numeric(precision=15, scale=2),
            nullable=False,
            comment="Face value of open ops",
        ),
        sa.Column("operaciones_abiertas", sa.Integer(), nullable=False),
        sa.Column(
            "utilizacion", sa.Numeric(precision=9, scale=4), nullable=True, comment="cedido vigente / linea"
        ),
        sa.Column("deudor_principal_rut", sa.String(length=40), nullable=True),
        sa.Column("deudor_principal_monto", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column(
            "concentracion_deudor_principal",
            sa.Numeric(precision=9, scale=4),
            nullable=True,
            comment="Largest debtor share",
        ),
        sa.Column("facturas_cedidas_vencidas", sa.Integer(), nullable=False),
        sa.Column("monto_cedido_vencido", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "cliente_id"),
    )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not downgraded")
