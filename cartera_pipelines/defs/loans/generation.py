"""Schedule generation over the whole portfolio (or one loan), in batches, one transaction per batch.

Each batch reads the next approved loans (keyset on id) and, in the same transaction, the schedules they
already have; decides per loan (:mod:`planning`: keep, create, regenerate, blocked, invalid); deletes each
schedule being regenerated with a guarded DELETE (nothing paid and the same row count, re-checked in the
statement itself); and bulk-inserts the new installments. A failure rolls back only the batch in flight:
earlier batches are complete, consistent schedules, and a re-run carries on (it keeps every schedule that
already is the engine's). A loan that cannot be scheduled (invalid terms, amounts that do not fit the
columns) is reported and the batch goes on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.loans import sql
from cartera_pipelines.defs.loans.planning import Action, Decision, Existing, LoanRow, decide
from cartera_pipelines.defs.loans.tables import ESTADO_APROBADO
from cartera_pipelines.lib.bulk import BackgroundCommits, rollback_and_close
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.resources.database import SqlDatabase

DEFAULT_BATCH_SIZE = 1_000
MAX_REPORTED = 200
"""Problem loans listed in metadata (all are counted; the list is capped so metadata stays small)."""
NO_SCHEDULE = Existing()


class LoanRequestError(ValueError):
    """The loan a run asked for cannot be scheduled (missing, or not APROBADO)."""


@dataclass
class GenerationReport:
    approved: int = 0
    installments_deleted: int = 0
    installments_written: int = 0
    totals: dict[Action, int] = field(default_factory=dict)
    listed: dict[Action, list[Decision]] = field(default_factory=dict)
    batches_written: int = 0
    last_approved_id: int | None = None
    """The highest approved loan id a portfolio run covered (the sensor starts after it); None for one loan."""

    def note(self, decision: Decision) -> None:
        self.totals[decision.action] = self.totals.get(decision.action, 0) + 1
        listed = self.listed.setdefault(decision.action, [])
        if (
            decision.action in (Action.INVALID, Action.BLOCKED, Action.REGENERATE)
            and len(listed) < MAX_REPORTED
        ):
            listed.append(decision)

    def count(self, action: Action) -> int:
        return self.totals.get(action, 0)

    def rows(self, action: Action) -> list[dict[str, Any]]:
        """The loans listed for ``action`` as rows for a Markdown table."""
        return [
            {
                "prestamo_id": decision.loan.id,
                "numero_cuotas": decision.loan.numero_cuotas,
                "cuotas_existentes": decision.existing.count,
                "problemas": "; ".join(decision.problems),
            }
            for decision in self.listed.get(action, [])
        ]


def _decide_batch(
    conn: sa.Connection,
    page: list[LoanRow],
    target: sql.Target,
    report: GenerationReport,
    force: bool,
) -> list[sql.ScheduleToWrite]:
    """Decide every loan of the page against the schedules it already has, delete the unpaid ones to be
    regenerated (in ``conn``'s transaction), and return the schedules to write."""
    existing = sql.stored_schedules(conn, page[0].id, page[-1].id)
    to_write: list[sql.ScheduleToWrite] = []
    for loan in page:
        decision = decide(loan, existing.get(loan.id, NO_SCHEDULE), target.limits, force=force)
        if decision.action is Action.REGENERATE:
            deleted = sql.delete_unpaid_schedule(conn, loan.id, decision.existing.count)
            if deleted == 0:  # a payment or an installment was recorded since the read: keep it
                decision = decision.changed_meanwhile()
            elif deleted != decision.existing.count:  # cannot happen: the statement compares the count
                raise RuntimeError(
                    f"prestamo {loan.id}: {deleted} installments deleted, {decision.existing.count} read"
                )
            report.installments_deleted += deleted
        report.note(decision)
        if decision.action in (Action.CREATE, Action.REGENERATE) and decision.terms is not None:
            to_write.append((loan.id, decision.terms, decision.rows))
    return to_write


def _write_batch(
    conn: sa.Connection,
    page: list[LoanRow],
    target: sql.Target,
    as_of: dt.date,
    report: GenerationReport,
    force: bool,
) -> None:
    to_write = _decide_batch(conn, page, target, report, force)
    if to_write:
        report.installments_written += sql.write_schedules(conn, to_write, as_of, target)
        report.batches_written += 1


def generate_schedules(
    db: SqlDatabase,
    as_of: dt.date,
    batch_size: int = DEFAULT_BATCH_SIZE,
    log: Callable[[str], None] = lambda _m: None,
) -> GenerationReport:
    """Bring every approved loan's schedule up to date; returns what was done and what was refused.

    Each batch of loans is one transaction. On PostgreSQL the server copies and commits a batch while
    this process decides the next one (``lib.bulk.BackgroundCommits``): the client's Python and the
    server's COPY overlap instead of taking turns.
    """
    report = GenerationReport(last_approved_id=0)
    with db.connect() as conn:
        target = sql.check_tables(conn)
        report.approved = sql.approved_count(conn)
    progress = Progress(log, "approved loans checked", total=report.approved, unit="loans")
    if db.dialect == "postgresql":
        _pipelined(db, as_of, batch_size, target, report, progress)
    else:
        after_id = 0
        while True:
            with db.begin() as conn:
                page = sql.approved_page(conn, after_id, batch_size)
                if not page:
                    break
                _write_batch(conn, page, target, as_of, report, force=False)
            after_id = report.last_approved_id = page[-1].id
            progress.advance(len(page), installments_written=report.installments_written)
    progress.finish(installments_written=report.installments_written)
    return report


def _pipelined(
    db: SqlDatabase,
    as_of: dt.date,
    batch_size: int,
    target: sql.Target,
    report: GenerationReport,
    progress: Progress,
) -> None:
    after_id = 0
    with BackgroundCommits() as commits:
        while True:
            conn = db.engine.connect()
            transaction = conn.begin()
            try:
                page = sql.approved_page(conn, after_id, batch_size)
                to_write = _decide_batch(conn, page, target, report, force=False) if page else []
                text = sql.copy_text_of(to_write, as_of, target)
            except BaseException:
                rollback_and_close(conn, transaction)
                raise
            commits.submit(conn, transaction, sql.cuotas.name, sql.COPY_COLUMNS, text)
            if not page:  # the last transaction read an empty page and commits nothing
                break
            if to_write:
                report.installments_written += sum(len(rows) for _, _, rows in to_write)
                report.batches_written += 1
            after_id = report.last_approved_id = page[-1].id
            progress.advance(len(page), installments_written=report.installments_written)


def regenerate_loan(db: SqlDatabase, prestamo_id: int, as_of: dt.date) -> GenerationReport:
    """Rebuild one approved loan's schedule from its current terms (unless payments are recorded)."""
    report = GenerationReport(approved=1)
    with db.begin() as conn:
        target = sql.check_tables(conn)
        found = sql.loan_by_id(conn, prestamo_id)
        if found is None:
            raise LoanRequestError(f"prestamo {prestamo_id} does not exist in operations.prestamos")
        loan, estado = found
        if estado != ESTADO_APROBADO:
            raise LoanRequestError(
                f"prestamo {prestamo_id} is {estado!r}, not {ESTADO_APROBADO}: only approved loans get a schedule"
            )
        _write_batch(conn, [loan], target, as_of, report, force=True)
    return report


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "GenerationReport",
    "LoanRequestError",
    "generate_schedules",
    "regenerate_loan",
]
