"""Checks on ``operations/cuotas``: the schedule invariants, and the loans the asset could not schedule.

The invariants (capital sums to the principal, final balance zero, monto_cuota = capital + interest, due
dates strictly increasing, one row per installment number) are ``blocking``: a schedule that breaks them
is wrong money. Loans with invalid terms or with payments and a wrong installment count are ERROR
checks that do not block: they need a person to fix the loan, and the other schedules are still right.
The invariants' offenders queries live in :mod:`sql`; the two reporting checks validate terms with the one
rule the asset uses (:func:`terms.parse_terms`, through :mod:`planning`), not a SQL twin of it. Each result
carries the count and a sample (``lib.checks``).
"""

from __future__ import annotations

import dagster as dg

from cartera_pipelines.defs.loans import assets, sql
from cartera_pipelines.defs.loans.planning import count_mismatches, invalid_loans
from cartera_pipelines.lib.checks import offenders_check, rows_check
from cartera_pipelines.resources.database import SqlDatabase


@dg.asset_check(
    asset=assets.operations_cuotas,
    blocking=True,
    description="Per loan, the installments' capital sums to the principal.",
)
def capital_sums_to_principal(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with operations_db.connect() as conn:
        return offenders_check(conn, sql.capital_not_principal(), "loans whose capital is not the principal")


@dg.asset_check(
    asset=assets.operations_cuotas,
    blocking=True,
    description="Every schedule's last installment leaves a zero balance.",
)
def final_balance_zero(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with operations_db.connect() as conn:
        return offenders_check(
            conn, sql.final_balance_not_zero(), "loans whose last installment leaves a balance"
        )


@dg.asset_check(
    asset=assets.operations_cuotas,
    blocking=True,
    description="monto_cuota = monto_capital + monto_interes on every row.",
)
def cuota_equals_capital_plus_interest(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with operations_db.connect() as conn:
        return offenders_check(
            conn,
            sql.cuota_not_capital_plus_interest(),
            "loans with an installment that is not capital + interest",
        )


@dg.asset_check(
    asset=assets.operations_cuotas,
    blocking=True,
    description="Due dates strictly increase with the installment number.",
)
def due_dates_increasing(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with operations_db.connect() as conn:
        return offenders_check(
            conn, sql.due_dates_not_increasing(), "loans with due dates that do not increase"
        )


@dg.asset_check(
    asset=assets.operations_cuotas,
    blocking=True,
    description="One row per (prestamo_id, numero_cuota), numbered 1..n.",
)
def installment_numbers_unique(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with operations_db.connect() as conn:
        return offenders_check(
            conn, sql.installment_numbers_broken(), "loans with duplicate or missing installment numbers"
        )


@dg.asset_check(
    asset=assets.operations_cuotas,
    description="Every approved loan with valid terms has exactly numero_cuotas installments "
    "(fails for loans with payments whose count is wrong, for schedules refused because their amounts do not "
    "fit, and for approved loans not scheduled yet).",
)
def installment_count_matches(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with operations_db.connect() as conn:
        loans, counts = sql.loans_with_counts(conn)
    return rows_check(count_mismatches(loans, counts), "loans whose installment count is not numero_cuotas")


@dg.asset_check(
    asset=assets.operations_cuotas,
    description="Every approved loan has terms a schedule can be computed from.",
)
def loan_terms_valid(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    with operations_db.connect() as conn:
        loans = list(sql.approved_loans(conn))
    return rows_check(invalid_loans(loans), "approved loans with invalid terms")
