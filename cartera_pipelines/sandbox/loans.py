"""Sandbox demo data for the loans family: ``prestamos`` and some existing ``cuotas`` in the operations store.

Deterministic for a seed; ``300 × scale`` loans. What is in it, so every path of ``operations/cuotas`` shows:

* every method × modality combination (they cycle), zero-rate loans, one-installment loans, month-end and
  leap-day base dates (31 Jan 2024, 29 Feb 2024, 31 Aug 2025 …);
* about 72 % APROBADO, the rest SOLICITADO / RECHAZADO / ANULADO (never scheduled);
* about 15 % of approved loans already scheduled (by the engine, so their schedules are right), a few of
  them with payments recorded (fully paid first installments, one partly paid);
* loans with an incomplete schedule and nothing paid (the asset replaces it), and loans with payments
  whose installment count no longer matches numero_cuotas (left untouched and reported);
* biweekly and weekly loans with the old generator's schedule (the monthly rate: right count and dates,
  wrong interest): regenerated when nothing is paid, reported when a payment is recorded;
* a few loans spelled as the lender's system writes them (`` quincenal``, ``Francesa ``): scheduled alike;
* six approved loans with invalid terms: principal 0, 0 installments, negative rate, no base date,
  unknown method, unknown modality.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.loans.amortization import due_dates, schedule_cents
from cartera_pipelines.defs.loans.sql import installment_rows
from cartera_pipelines.defs.loans.tables import ESTADO_APROBADO, cuotas, prestamos
from cartera_pipelines.defs.loans.terms import LoanTerms, Method, Modality, parse_terms
from cartera_pipelines.sandbox.db import insert_rows, recreate_tables
from cartera_pipelines.sandbox.targets import SandboxTargets

LOANS_PER_SCALE = 300
REFERENCE_DAY = dt.date(2026, 11, 1)
"""Status of pre-built schedules is computed as of this fixed day, so the build is deterministic."""

_METHODS = [m.value for m in Method]
_MODALITIES = [m.value for m in Modality]
_INSTALLMENTS = {
    "MENSUAL": [1, 6, 12, 18, 24, 36, 48, 60],
    "QUINCENAL": [2, 12, 24, 48, 72],
    "SEMANAL": [4, 12, 26, 52, 104],
}
_MONTH_ENDS = [
    dt.date(2024, 1, 31),
    dt.date(2024, 2, 29),
    dt.date(2025, 1, 31),
    dt.date(2024, 8, 31),
    dt.date(2025, 10, 31),
]
_OTHER_STATES = ["SOLICITADO", "SOLICITADO", "RECHAZADO", "ANULADO"]

INVALID_TERMS: list[dict[str, Any]] = [
    {"total_financiamiento": Decimal("0.00")},
    {"numero_cuotas": 0},
    {"tasa_interes": Decimal("-1.50")},
    {"fecha_base_calculo": None},
    {"metodo_amortizacion": "ALEMAN"},
    {"modalidad_pago": "MENSUALIDAD"},
]


def _loan(rng: random.Random, loan_id: int) -> dict[str, Any]:
    method = _METHODS[loan_id % 3]
    modality = _MODALITIES[(loan_id // 3) % 3]
    if loan_id % 11 == 0:
        base = _MONTH_ENDS[(loan_id // 11) % len(_MONTH_ENDS)]
    else:
        base = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 1_050))
    rate = Decimal("0.00") if loan_id % 25 == 0 else Decimal(rng.randrange(900, 3_600)) / 100
    return {
        "id": loan_id,
        "total_financiamiento": Decimal(rng.randrange(50_000_000, 5_000_000_000)) / 100,
        "numero_cuotas": rng.choice(_INSTALLMENTS[modality]),
        "tasa_interes": rate,
        "modalidad_pago": modality,
        "metodo_amortizacion": method,
        "fecha_base_calculo": base,
        "estado": ESTADO_APROBADO if rng.random() < 0.72 else rng.choice(_OTHER_STATES),
    }


def _paid(row: dict[str, Any], fraction: Decimal = Decimal(1)) -> dict[str, Any]:
    capital = (row["monto_capital"] * fraction).quantize(Decimal("0.01"))
    interest = (row["monto_interes"] * fraction).quantize(Decimal("0.01"))
    paid = dict(row)
    paid.update(
        capital_pagado=capital,
        interes_pagado=interest,
        total_pagado=capital + interest,
        capital_pendiente=row["monto_capital"] - capital,
        interes_pendiente=row["monto_interes"] - interest,
        estado="PAGADO" if fraction == 1 else "PARCIAL",
    )
    return paid


def generate(scale: int = 1, seed: int = 42) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The loans and the installments that already exist (pure: nothing is written)."""
    rng = random.Random(seed)
    loans = [_loan(rng, loan_id) for loan_id in range(1, LOANS_PER_SCALE * scale + 1)]
    approved = [loan for loan in loans if loan["estado"] == ESTADO_APROBADO]
    for loan, broken in zip(approved[-len(INVALID_TERMS) :], INVALID_TERMS):
        loan.update(broken)
    schedulable = [loan for loan in approved[: -len(INVALID_TERMS)] if loan["numero_cuotas"] >= 4]
    scheduled = schedulable[::7]  # ~15 % of approved loans already have a schedule
    installments: list[dict[str, Any]] = []
    for position, loan in enumerate(scheduled):
        terms = parse_terms(
            loan["total_financiamiento"],
            loan["tasa_interes"],
            loan["numero_cuotas"],
            loan["modalidad_pago"],
            loan["metodo_amortizacion"],
            loan["fecha_base_calculo"],
        )
        assert isinstance(terms, LoanTerms), terms
        rows = list(installment_rows(loan["id"], terms, schedule_cents(terms), REFERENCE_DAY))
        kind = position % 8
        if kind == 1:  # payments recorded: first two installments paid, the third partly
            rows[0], rows[1], rows[2] = _paid(rows[0]), _paid(rows[1]), _paid(rows[2], Decimal("0.4"))
        elif kind == 3:  # paid, then numero_cuotas was renegotiated upward: blocked, never regenerated
            rows[0] = _paid(rows[0])
            loan["numero_cuotas"] += 6
        elif kind == 5:  # an interrupted old-style generation: half a schedule, nothing paid
            rows = rows[: len(rows) // 2]
        elif kind in (6, 7) and terms.modality is not Modality.MENSUAL and terms.annual_rate:
            # the old generator applied the monthly rate to biweekly and weekly loans: the right count and
            # dates, the interest two or four times too high; regenerated (6) or, with a payment, kept (7)
            rows = _old_generator_rows(loan["id"], terms)
            if kind == 7:
                rows[0] = _paid(rows[0])
        installments.extend(rows)
    for loan in approved[: -len(INVALID_TERMS)][5::23]:  # the lender's spellings: valid, scheduled alike
        loan["modalidad_pago"] = f" {str(loan['modalidad_pago']).lower()}"
        loan["metodo_amortizacion"] = f"{str(loan['metodo_amortizacion']).capitalize()} "
    return loans, installments


def _old_generator_rows(loan_id: int, terms: LoanTerms) -> list[dict[str, Any]]:
    monthly = replace(terms, modality=Modality.MENSUAL)
    rows = list(installment_rows(loan_id, monthly, schedule_cents(monthly), REFERENCE_DAY))
    for row, due in zip(rows, due_dates(terms.base_date, terms.modality, terms.installments), strict=True):
        row["fecha_vencimiento"] = due
    return rows


def build(targets: SandboxTargets, *, scale: int = 1, seed: int = 42) -> dict[str, int]:
    loans, installments = generate(scale, seed)
    engine = recreate_tables(targets.operations_url, [prestamos, cuotas])
    try:
        with engine.begin() as conn:
            n_loans = insert_rows(conn, prestamos, loans)
            n_installments = insert_rows(conn, cuotas, installments)
            if conn.dialect.name == "postgresql":
                # Explicit ids do not advance the serial: move it past them so new loans get fresh ids.
                conn.execute(
                    sa.text(
                        "SELECT setval(pg_get_serial_sequence('prestamos', 'id'), (SELECT max(id) FROM prestamos))"
                    )
                )
    finally:
        engine.dispose()
    return {"prestamos": n_loans, "cuotas": n_installments}
