"""tns: tns_inventory_movements.third_party_nit is as wide as the source's TERCEROS.NIT (30, was 20).

Revision ID: tns_0002
Revises: tns_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "tns_0002"
down_revision = "tns_0001"
branch_labels = None
depends_on = None

COMMENT = "TERCEROS.NIT as written in TNS (up to 30 characters)"


def upgrade() -> None:
    with op.batch_alter_table("tns_inventory_movements") as batch:
        batch.alter_column(
            "third_party_nit",
            existing_type=sa.String(length=20),
            type_=sa.String(length=30),
            existing_nullable=True,
            comment=COMMENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("tns_inventory_movements") as batch:
        batch.alter_column(
            "third_party_nit",
            existing_type=sa.String(length=30),
            type_=sa.String(length=20),
            existing_nullable=True,
            comment=None,
            existing_comment=COMMENT,
        )
