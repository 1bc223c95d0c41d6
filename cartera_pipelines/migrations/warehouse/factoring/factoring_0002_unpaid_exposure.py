"""factoring: exposure over unpaid invoices (#17) and text of any length from the API's tables.

Adds ``monto_operaciones_abiertas`` (the face value of the open operations, what the API reserves on the
line) — for the snapshots taken before this revision it is what ``monto_cedido_vigente`` held then, the
face value — and makes the columns copied from the API's text (``rut_original``, ``razon_social``,
``estado``, ``deudor_principal_rut``) TEXT. Idempotent, like the baseline: a warehouse whose table already
has the new shape is left as it is.

Revision ID: factoring_0002
Revises: factoring_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "factoring_0002"
down_revision = "factoring_0001"
branch_labels = None
depends_on = None

TEXT_COLUMNS = ("rut_original", "razon_social", "estado", "deudor_principal_rut")


def upgrade() -> None:
    columns = {c["name"]: c for c in sa.inspect(op.get_bind()).get_columns("factoring_exposure")}
    added = "monto_operaciones_abiertas" not in columns
    if added:
        with op.batch_alter_table("factoring_exposure") as batch:
            batch.add_column(
                sa.Column(
                    "monto_operaciones_abiertas",
                    sa.Numeric(precision=15, scale=2),
                    nullable=True,
                    comment="Face value of the open operations: what the API reserves on the line",
                )
            )
        op.execute("UPDATE factoring_exposure SET monto_operaciones_abiertas = monto_cedido_vigente")
    with op.batch_alter_table("factoring_exposure") as batch:
        if added:
            batch.alter_column("monto_operaciones_abiertas", existing_type=sa.Numeric(15, 2), nullable=False)
        for name in TEXT_COLUMNS:
            if not isinstance(columns[name]["type"], sa.Text):
                batch.alter_column(
                    name,
                    existing_type=columns[name]["type"],
                    type_=sa.Text(),
                    existing_nullable=columns[name]["nullable"],
                )
        batch.alter_column(
            "monto_cedido_vigente",
            existing_type=sa.Numeric(15, 2),
            existing_nullable=False,
            comment="Unpaid (not pagada/anulada) invoices of open operations; before 2026-12 the face value",
        )
        batch.alter_column(
            "linea_disponible_esperada",
            existing_type=sa.Numeric(15, 2),
            existing_nullable=False,
            comment="Line minus the open operations' face value",
        )
        batch.alter_column(
            "concentracion_deudor_principal",
            existing_type=sa.Numeric(9, 4),
            existing_nullable=True,
            comment="Largest debtor's share of cedido vigente",
        )
        batch.alter_column(
            "deudor_principal_rut",
            existing_type=sa.Text(),
            existing_nullable=True,
            comment="The debtor who owes most (canonical RUT)",
        )
        batch.alter_column(
            "as_of",
            existing_type=sa.Date(),
            existing_nullable=False,
            comment="Chile date of the snapshot (the partition)",
        )


def downgrade() -> None:
    raise NotImplementedError("exposure snapshots are not downgraded")
