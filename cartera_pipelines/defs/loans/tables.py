"""Tables of the loans family, in the operations store (created by the lender's system, or the sandbox).

We read ``prestamos`` and write only ``cuotas``. Money is ``NUMERIC(15,2)`` read as ``Decimal``; the annual
rate is ``NUMERIC(5,2)`` (percent). ``metodo_amortizacion``/``modalidad_pago`` are free text in the
source, so unknown values are possible and reported per loan, never guessed.
"""

from __future__ import annotations

import sqlalchemy as sa

operations = sa.MetaData()

Money = sa.Numeric(15, 2, asdecimal=True)
# SQLite has no BIGINT autoincrement: the primary key is INTEGER there (same 64-bit range).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

ESTADO_APROBADO = "APROBADO"

prestamos = sa.Table(
    "prestamos",
    operations,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("total_financiamiento", Money, comment="Principal financed"),
    sa.Column("numero_cuotas", sa.Integer, comment="Number of installments"),
    sa.Column("tasa_interes", sa.Numeric(5, 2, asdecimal=True), comment="Annual interest rate, percent"),
    sa.Column("modalidad_pago", sa.String(20), comment="MENSUAL | QUINCENAL | SEMANAL"),
    sa.Column("metodo_amortizacion", sa.String(20), comment="FRANCESA | ALEMANA | AMERICANA"),
    sa.Column("fecha_base_calculo", sa.Date, comment="Base date: due dates count from it"),
    sa.Column("estado", sa.String(20), nullable=False, comment="Loan state; APROBADO loans get a schedule"),
)

cuotas = sa.Table(
    "cuotas",
    operations,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("prestamo_id", sa.Integer, sa.ForeignKey("prestamos.id"), nullable=False),
    sa.Column("numero_cuota", sa.Integer, nullable=False, comment="1..numero_cuotas"),
    sa.Column("fecha_vencimiento", sa.Date, nullable=False, comment="Due date"),
    sa.Column("monto_cuota", Money, nullable=False, comment="Installment = capital + interest"),
    sa.Column("monto_capital", Money, nullable=False),
    sa.Column("monto_interes", Money, nullable=False),
    sa.Column("saldo_capital_inicial", Money, nullable=False, comment="Balance before this installment"),
    sa.Column("saldo_capital_final", Money, nullable=False, comment="Balance after this installment"),
    sa.Column("capital_pagado", Money, nullable=False, server_default="0"),
    sa.Column("interes_pagado", Money, nullable=False, server_default="0"),
    sa.Column("mora_pagada", Money, nullable=False, server_default="0", comment="Late fees paid"),
    sa.Column("total_pagado", Money, nullable=False, server_default="0"),
    sa.Column("capital_pendiente", Money, nullable=False),
    sa.Column("interes_pendiente", Money, nullable=False),
    sa.Column("estado", sa.String(10), nullable=False, comment="PENDIENTE | PAGADO | ATRASADO | PARCIAL"),
    sa.UniqueConstraint("prestamo_id", "numero_cuota", name="uq_cuotas_prestamo_numero"),
)
