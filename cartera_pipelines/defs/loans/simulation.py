"""``loans_simulate_job``: the schedule of loan terms given as run config, shown in the run; writes nothing.

An op job rather than an asset: a what-if has no table to live in. The terms go through the same
validation as the batch's (:func:`terms.parse_terms`).
"""

import datetime as dt
from typing import Any

import dagster as dg

from cartera_pipelines.defs.loans.amortization import Installment, ScheduleTotals, schedule, totals
from cartera_pipelines.defs.loans.config import SimulationConfig
from cartera_pipelines.defs.loans.terms import InvalidTerms, LoanTerms, parse_terms
from cartera_pipelines.lib.dates import BOGOTA, today_in
from cartera_pipelines.lib.metadata import markdown_table

MAX_TABLE_ROWS = 1_000
"""Installments shown in the Markdown table (a 20-year weekly loan has 1,040)."""


def _summary(terms: LoanTerms, sums: ScheduleTotals) -> str:
    return (
        f"{terms.method.value} {terms.modality.value}: {sums.installments} installments from "
        f"{sums.first_due} to {sums.last_due}; total paid {sums.total_paid:,.2f} = capital "
        f"{sums.total_capital:,.2f} + interest {sums.total_interest:,.2f}"
    )


def _schedule_metadata(rows: list[Installment], sums: ScheduleTotals, summary: str) -> dict[str, Any]:
    shown = [r._asdict() for r in rows[:MAX_TABLE_ROWS]]
    table = markdown_table(shown, limit=MAX_TABLE_ROWS)
    if len(rows) > MAX_TABLE_ROWS:
        table += f"\n\n_first {MAX_TABLE_ROWS:,} of {len(rows):,} installments shown_"
    records = [
        dg.TableRecord({k: v.isoformat() if isinstance(v, dt.date) else str(v) for k, v in r.items()})
        for r in shown
    ]
    columns = [dg.TableColumn(name, "string") for name in Installment._fields]
    return {
        "schedule": dg.MetadataValue.md(table),
        "schedule_table": dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns)),
        "summary": dg.MetadataValue.text(summary),
        "installments": sums.installments,
        "first_payment": dg.MetadataValue.text(f"{rows[0].monto_cuota:,.2f}"),
        "total_paid": dg.MetadataValue.text(f"{sums.total_paid:,.2f}"),
        "total_capital": dg.MetadataValue.text(f"{sums.total_capital:,.2f}"),
        "total_interest": dg.MetadataValue.text(f"{sums.total_interest:,.2f}"),
        "first_due": dg.MetadataValue.text(sums.first_due.isoformat()),
        "last_due": dg.MetadataValue.text(sums.last_due.isoformat()),
    }


@dg.op(
    description="Compute the amortization schedule of the configured terms and show it as run metadata.",
    tags={"kind": "python"},
)
def simulate_schedule(context: dg.OpExecutionContext, config: SimulationConfig) -> dg.Output[None]:
    base_date = config.base_date if config.base_date.strip() else today_in(BOGOTA)
    terms = parse_terms(
        config.principal, config.annual_rate, config.installments, config.modality, config.method, base_date
    )
    if isinstance(terms, InvalidTerms):
        raise dg.Failure(
            description="invalid loan terms in run config: " + "; ".join(terms.problems),
            metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in terms.problems))},
        )
    rows = schedule(terms)
    sums = totals(rows)
    summary = _summary(terms, sums)
    context.log.info(summary)
    return dg.Output(None, metadata=_schedule_metadata(rows, sums, summary))


@dg.job(
    name="loans_simulate_job",
    description="Simulate a loan's amortization schedule from run config (launchpad); writes nothing.",
    tags={"family": "loans"},
)
def loans_simulate_job() -> None:
    simulate_schedule()
