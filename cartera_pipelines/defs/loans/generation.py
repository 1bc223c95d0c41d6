"""Schedule generation over the whole portfolio, in batches, one transaction per batch.

Each batch reads the next approved loans (keyset on id) and, in the same transaction, what schedules
they already have; decides per loan (:mod:`planning`); deletes the unpaid wrong-count schedules; and
bulk-inserts the new installments. A failure rolls back only the batch in flight: earlier batches are
complete, consistent schedules, and a re-run carries on (it skips every loan whose count is right).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cartera_pipelines.defs.loans import sql
from cartera_pipelines.defs.loans.planning import Action, Decision, Existing, decide
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.resources.database import SqlDatabase

DEFAULT_BATCH_SIZE = 1_000
MAX_REPORTED = 200
"""Problem loans listed in metadata (all are counted; the list is capped so metadata stays small)."""


@dataclass
class GenerationReport:
    approved: int = 0
    kept: int = 0
    created: int = 0
    regenerated: int = 0
    installments_deleted: int = 0
    installments_written: int = 0
    invalid_total: int = 0
    blocked_total: int = 0
    invalid: list[Decision] = field(default_factory=list)
    blocked: list[Decision] = field(default_factory=list)
    batches_written: int = 0
    last_approved_id: int = 0
    """The highest approved loan id this run looked at (the sensor starts after it)."""

    def note(self, decision: Decision) -> None:
        if decision.action is Action.INVALID:
            self.invalid_total += 1
            if len(self.invalid) < MAX_REPORTED:
                self.invalid.append(decision)
        elif decision.action is Action.BLOCKED:
            self.blocked_total += 1
            if len(self.blocked) < MAX_REPORTED:
                self.blocked.append(decision)
        elif decision.action is Action.KEEP:
            self.kept += 1
        elif decision.action is Action.CREATE:
            self.created += 1
        elif decision.action is Action.REGENERATE:
            self.regenerated += 1


def generate_schedules(
    db: SqlDatabase,
    as_of: dt.date,
    batch_size: int = DEFAULT_BATCH_SIZE,
    log: Callable[[str], None] = lambda _m: None,
) -> GenerationReport:
    """Bring every approved loan's schedule up to date; returns what was done and what was refused."""
    report = GenerationReport()
    with db.connect() as conn:
        report.approved = sql.approved_count(conn)
    progress = Progress(log, "approved loans checked", total=report.approved, unit="loans")
    after_id = 0
    while True:
        with db.begin() as conn:
            page = sql.approved_page(conn, after_id, batch_size)
            if not page:
                break
            existing = sql.existing_schedules(conn, page[0].id, page[-1].id)
            decisions = [decide(loan, existing.get(loan.id, Existing())) for loan in page]
            for decision in decisions:
                report.note(decision)
            to_write = [d for d in decisions if d.action in (Action.CREATE, Action.REGENERATE)]
            if to_write:
                report.installments_deleted += sql.delete_schedules(
                    conn, [d.loan.id for d in to_write if d.action is Action.REGENERATE]
                )
                report.installments_written += sql.write_schedules(
                    conn, [(d.loan.id, d.terms) for d in to_write if d.terms is not None], as_of
                )
                report.batches_written += 1
        after_id = report.last_approved_id = page[-1].id
        progress.advance(len(page), installments_written=report.installments_written)
    progress.finish(installments_written=report.installments_written)
    return report


def first_rows(decisions: list[Decision]) -> list[dict[str, Any]]:
    """Problem loans as rows for a Markdown table."""
    return [
        {
            "prestamo_id": d.loan.id,
            "numero_cuotas": d.loan.numero_cuotas,
            "cuotas_existentes": d.existing.count,
            "problemas": "; ".join(d.problems),
        }
        for d in decisions
    ]


__all__ = ["DEFAULT_BATCH_SIZE", "GenerationReport", "first_rows", "generate_schedules"]
