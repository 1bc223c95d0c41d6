"""Checks on ``operations/cuotas``: the schedule invariants, and the loans the asset could not schedule.

The invariants (capital sums to the principal, final balance zero, monto_cuota = capital + interest, due
dates strictly increasing, one row per installment number) are ``blocking``: a schedule that breaks them
is wrong money. Loans with invalid terms or with payments and a wrong installment count are ERROR
checks that do not block: they need a person to fix the loan, and the other schedules are still right.

Amounts are compared with a tolerance of a tenth of a cent: exact on PostgreSQL/MySQL (whole cents), and
immune to the binary floats SQLite stores NUMERIC as.
"""

from decimal import Decimal
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.loans.amortization import InvalidTerms, Method, Modality, parse_terms
from cartera_pipelines.defs.loans.tables import ESTADO_APROBADO, cuotas, prestamos
from cartera_pipelines.lib.metadata import markdown_table
from cartera_pipelines.resources.database import SqlDatabase

CUOTAS = dg.AssetKey(["operations", "cuotas"])
SAMPLE = 20
_TOLERANCE = sa.literal(Decimal("0.001"), sa.Numeric(15, 3))


def _off(expression: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return sa.func.abs(expression) > _TOLERANCE


def _result(conn: sa.Connection, offenders: sa.Select[Any], what: str) -> dg.AssetCheckResult:
    """Pass when ``offenders`` (a query of prestamo_id, …) is empty; list a sample otherwise."""
    subquery = offenders.subquery()
    count = int(conn.execute(sa.select(sa.func.count()).select_from(subquery)).scalar_one())
    sample = [
        dict(row._mapping) for row in conn.execute(sa.select(subquery).order_by(subquery.c[0]).limit(SAMPLE))
    ]
    return dg.AssetCheckResult(
        passed=count == 0,
        description=f"{count} loans {what}" if count else None,
        metadata={
            "loans_failing": count,
            "sample": dg.MetadataValue.md(markdown_table(sample, limit=SAMPLE)),
        },
    )


def valid_terms_sql() -> sa.ColumnElement[bool]:
    """The terms :func:`amortization.parse_terms` accepts, as SQL (for set-based checks)."""
    return sa.and_(
        prestamos.c.total_financiamiento > 0,
        prestamos.c.numero_cuotas > 0,
        prestamos.c.tasa_interes >= 0,
        prestamos.c.fecha_base_calculo.is_not(None),
        prestamos.c.modalidad_pago.in_([m.value for m in Modality]),
        prestamos.c.metodo_amortizacion.in_([m.value for m in Method]),
    )


@dg.asset_check(
    asset=CUOTAS, blocking=True, description="Per loan, the installments' capital sums to the principal."
)
def capital_sums_to_principal(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    capital = sa.func.sum(cuotas.c.monto_capital)
    offenders = (
        sa.select(cuotas.c.prestamo_id, prestamos.c.total_financiamiento, capital.label("capital"))
        .join(prestamos, prestamos.c.id == cuotas.c.prestamo_id)
        .group_by(cuotas.c.prestamo_id, prestamos.c.total_financiamiento)
        .having(_off(capital - prestamos.c.total_financiamiento))
    )
    with operations_db.connect() as conn:
        return _result(conn, offenders, "whose capital does not sum to the principal")


@dg.asset_check(
    asset=CUOTAS, blocking=True, description="Every schedule's last installment leaves a zero balance."
)
def final_balance_zero(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    last = (
        sa.select(cuotas.c.prestamo_id, sa.func.max(cuotas.c.numero_cuota).label("ultima"))
        .group_by(cuotas.c.prestamo_id)
        .subquery()
    )
    offenders = (
        sa.select(cuotas.c.prestamo_id, cuotas.c.numero_cuota, cuotas.c.saldo_capital_final)
        .join(
            last, sa.and_(last.c.prestamo_id == cuotas.c.prestamo_id, last.c.ultima == cuotas.c.numero_cuota)
        )
        .where(_off(cuotas.c.saldo_capital_final))
    )
    with operations_db.connect() as conn:
        return _result(conn, offenders, "whose last installment leaves a balance")


@dg.asset_check(
    asset=CUOTAS, blocking=True, description="monto_cuota = monto_capital + monto_interes on every row."
)
def cuota_equals_capital_plus_interest(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    offenders = (
        sa.select(cuotas.c.prestamo_id, sa.func.count().label("cuotas_mal"))
        .where(_off(cuotas.c.monto_cuota - cuotas.c.monto_capital - cuotas.c.monto_interes))
        .group_by(cuotas.c.prestamo_id)
    )
    with operations_db.connect() as conn:
        return _result(conn, offenders, "with an installment that is not capital + interest")


@dg.asset_check(
    asset=CUOTAS, blocking=True, description="Due dates strictly increase with the installment number."
)
def due_dates_increasing(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    following = cuotas.alias("siguiente")
    offenders = (
        sa.select(cuotas.c.prestamo_id, sa.func.min(following.c.numero_cuota).label("primera_cuota_mal"))
        .join(
            following,
            sa.and_(
                following.c.prestamo_id == cuotas.c.prestamo_id,
                following.c.numero_cuota == cuotas.c.numero_cuota + 1,
            ),
        )
        .where(following.c.fecha_vencimiento <= cuotas.c.fecha_vencimiento)
        .group_by(cuotas.c.prestamo_id)
    )
    with operations_db.connect() as conn:
        return _result(conn, offenders, "with due dates that do not increase")


@dg.asset_check(
    asset=CUOTAS, blocking=True, description="One row per (prestamo_id, numero_cuota), numbered 1..n."
)
def installment_numbers_unique(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    offenders = (
        sa.select(
            cuotas.c.prestamo_id,
            sa.func.count().label("filas"),
            sa.func.count(sa.distinct(cuotas.c.numero_cuota)).label("numeros"),
            sa.func.min(cuotas.c.numero_cuota).label("primera"),
            sa.func.max(cuotas.c.numero_cuota).label("ultima"),
        )
        .group_by(cuotas.c.prestamo_id)
        .having(
            sa.or_(
                sa.func.count() != sa.func.count(sa.distinct(cuotas.c.numero_cuota)),
                sa.func.min(cuotas.c.numero_cuota) != 1,
                sa.func.max(cuotas.c.numero_cuota) != sa.func.count(),
            )
        )
    )
    with operations_db.connect() as conn:
        return _result(conn, offenders, "with duplicate or missing installment numbers")


@dg.asset_check(
    asset=CUOTAS,
    description="Every approved loan with valid terms has exactly numero_cuotas installments "
    "(fails for loans with payments whose count is wrong, and for approved loans not scheduled yet).",
)
def installment_count_matches(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    counts = (
        sa.select(cuotas.c.prestamo_id, sa.func.count().label("n")).group_by(cuotas.c.prestamo_id).subquery()
    )
    existing = sa.func.coalesce(counts.c.n, 0)
    offenders = (
        sa.select(
            prestamos.c.id.label("prestamo_id"),
            prestamos.c.numero_cuotas,
            existing.label("cuotas_existentes"),
        )
        .select_from(prestamos.outerjoin(counts, counts.c.prestamo_id == prestamos.c.id))
        .where(
            prestamos.c.estado == ESTADO_APROBADO, valid_terms_sql(), existing != prestamos.c.numero_cuotas
        )
    )
    with operations_db.connect() as conn:
        return _result(conn, offenders, "whose installment count is not numero_cuotas")


@dg.asset_check(asset=CUOTAS, description="Every approved loan has terms a schedule can be computed from.")
def loan_terms_valid(operations_db: SqlDatabase) -> dg.AssetCheckResult:
    columns = [
        prestamos.c.id,
        prestamos.c.total_financiamiento,
        prestamos.c.tasa_interes,
        prestamos.c.numero_cuotas,
        prestamos.c.modalidad_pago,
        prestamos.c.metodo_amortizacion,
        prestamos.c.fecha_base_calculo,
    ]
    invalid = sa.and_(
        prestamos.c.estado == ESTADO_APROBADO, sa.not_(sa.func.coalesce(valid_terms_sql(), False))
    )
    with operations_db.connect() as conn:
        count = int(
            conn.execute(sa.select(sa.func.count()).select_from(prestamos).where(invalid)).scalar_one()
        )
        rows = conn.execute(sa.select(*columns).where(invalid).order_by(prestamos.c.id).limit(SAMPLE)).all()
    sample = []
    for loan_id, *terms in rows:
        parsed = parse_terms(*terms)
        problems = "; ".join(parsed.problems) if isinstance(parsed, InvalidTerms) else "?"
        sample.append({"prestamo_id": loan_id, "problemas": problems})
    return dg.AssetCheckResult(
        passed=count == 0,
        description=f"{count} approved loans have invalid terms" if count else None,
        metadata={
            "loans_failing": count,
            "sample": dg.MetadataValue.md(markdown_table(sample, limit=SAMPLE)),
        },
    )
