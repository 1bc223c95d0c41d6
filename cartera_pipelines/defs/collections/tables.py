"""Tables of the collections family.

``lending``: the contract ledger we only read (MySQL in production; the sandbox creates it).
``operations``: the assignment tables we write (PostgreSQL in production; created by the sandbox,
never by the assets). ``contract_advisors`` has a unique ``contract_id``: a contract can never be held by
two houses, whatever the code does.
"""

from __future__ import annotations

import sqlalchemy as sa

lending = sa.MetaData()
operations = sa.MetaData()

contract_status = sa.Table(
    "contract_status",
    lending,
    sa.Column("contract_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(20), nullable=False, comment="ACTIVO, CANCELADO, CASTIGADO, …"),
)

contract_amortization = sa.Table(
    "contract_amortization",
    lending,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("contract_id", sa.BigInteger, nullable=False),
    sa.Column("payment_date", sa.Date, nullable=False, comment="Due date of the installment"),
    sa.Column("pending_balance", sa.Numeric(15, 2, asdecimal=True), nullable=False, comment="Unpaid amount"),
    # Covering index for the arrears query (contract, due date, balance): an index-only scan. The query
    # also works without it (a scan of the table); see docs/families/collections.md.
    sa.Index("ix_contract_amortization_contract_date", "contract_id", "payment_date", "pending_balance"),
)

managements = sa.Table(
    "managements",
    operations,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("contract_id", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False, comment="Who made the management (house users: 45, 81)"),
    sa.Column("effect", sa.String(40), nullable=False, comment="Outcome, e.g. pago_total, promesa_pago"),
    sa.Column("management_date", sa.DateTime, nullable=False),
    sa.Index("ix_managements_effect_contract", "effect", "contract_id"),
)

contract_advisors = sa.Table(
    "contract_advisors",
    operations,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("contract_id", sa.BigInteger, nullable=False, comment="Held by exactly one advisor/house"),
    sa.Column("user_id", sa.Integer, nullable=False, comment="House (collection agency) user id"),
    sa.Column("assigned_date", sa.Date, nullable=False),
    sa.UniqueConstraint("contract_id", name="uq_contract_advisors_contract"),
    sa.Index("ix_contract_advisors_user", "user_id"),
)

contract_advisors_history = sa.Table(
    "contract_advisors_history",
    operations,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("contract_id", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("fecha_inicial", sa.Date, nullable=False, comment="Day the assignment started"),
    sa.Column("fecha_terminal", sa.Date, nullable=True, comment="Day it ended; NULL while open"),
    sa.Index("ix_contract_advisors_history_contract_user", "contract_id", "user_id"),
)

LENDING_TABLES = (contract_status, contract_amortization)
OPERATIONS_TABLES = (managements, contract_advisors, contract_advisors_history)
