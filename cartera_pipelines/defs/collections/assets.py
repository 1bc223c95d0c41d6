"""The daily assignment: read arrears (lending) → plan (pure logic) → write in one transaction → reports."""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at runtime.

import gc
import time
from contextlib import contextmanager

import dagster as dg

from cartera_pipelines.defs.collections import reports, sql
from cartera_pipelines.defs.collections.assignment import plan_assignment
from cartera_pipelines.defs.collections.config import POOL, AssignmentConfig
from cartera_pipelines.defs.collections.tables import contract_advisors
from cartera_pipelines.lib.metadata import markdown_table, table_metadata
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.resources import CarteraPaths, SqlDatabase

GROUP = "collections"
OWNERS = ["team:collections"]
CONTRACT_ADVISORS = dg.AssetKey(["operations", "contract_advisors"])
ASSIGNMENT_REPORT = dg.AssetKey(["reports", "collections_assignment"])

contract_amortization_source = dg.AssetSpec(
    ["lending", "contract_amortization"],
    description="Installments of every lending contract (due date, pending balance). Read-only, MySQL.",
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mysql"},
)
contract_status_source = dg.AssetSpec(
    ["lending", "contract_status"],
    description="Status of every lending contract (ACTIVO, CANCELADO, …). Read-only, MySQL.",
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mysql"},
)
managements_source = dg.AssetSpec(
    ["operations", "managements"],
    description="Collection managements (who, which effect, when); `pago_total` by a house fixes a contract.",
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres"},
)


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while hundreds of thousands of small tuples are built: they
    hold no cycles, and the collector's repeated full passes over them cost about a third of the plan."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dg.multi_asset(
    name="collections_assignment",
    specs=[
        dg.AssetSpec(
            CONTRACT_ADVISORS,
            description=(
                "Which collection house holds each contract 61+ days overdue, with its history rows "
                "(`contract_advisors_history`). Fixed contracts (`pago_total` by a house) stay with their "
                "house, 0–60-day assignments are removed, new ones balance the houses to their weights. "
                "Deletes, inserts and history commit in one transaction."
            ),
            deps=[contract_amortization_source, contract_status_source, managements_source],
            group_name=GROUP,
            owners=OWNERS,
            kinds={"postgres", "python"},
            metadata=table_metadata(contract_advisors),
        ),
        dg.AssetSpec(
            ASSIGNMENT_REPORT,
            description=(
                "The run's files under `reports/collections/<as_of>/`: `asignacion_<user>.txt` (one contract "
                "id per line, per house) and `reporte_fijos_efect.xlsx` (Contratos Fijos, Resumen, Metadata)."
            ),
            deps=[CONTRACT_ADVISORS],
            group_name=GROUP,
            owners=OWNERS,
            kinds={"excel", "python"},
        ),
    ],
    pool=POOL,
    can_subset=False,
)
def collections_assignment(
    context: dg.AssetExecutionContext,
    config: AssignmentConfig,
    lending_db: SqlDatabase,
    operations_db: SqlDatabase,
    paths: CarteraPaths,
):
    """Assign overdue contracts to the collection houses and write the run's reports."""
    rules = config.rules()
    as_of = config.as_of_date()
    log = context.log
    log.info(f"assignment as of {as_of} ({'dry run' if config.dry_run else 'writing'}), rules {rules}")

    started = time.perf_counter()
    with lending_db.connect() as conn, _gc_paused():
        arrears = sql.read_arrears(conn, as_of, progress=Progress(log.info, "arrears", unit="contracts"))
    read_seconds = time.perf_counter() - started
    log.info(f"arrears: {len(arrears):,} contracts in arrears read in {read_seconds:.1f}s")

    # The operations reads happen in the write transaction, so the plan is applied to what it saw.
    opened = operations_db.connect() if config.dry_run else operations_db.begin()
    with opened as conn:
        with _gc_paused():
            ops_started = time.perf_counter()
            fixed = sql.read_fixed(conn, rules)
            holdings = sql.read_holdings(conn)
            ops_read_seconds = time.perf_counter() - ops_started
            plan_started = time.perf_counter()
            plan = plan_assignment(
                as_of=as_of,
                arrears=arrears,
                holdings=holdings,
                fixed={c: f.user_id for c, f in fixed.items()},
                rules=rules,
            )
            plan_seconds = time.perf_counter() - plan_started
        log.info(
            f"plan: {len(plan.removals):,} removals, {len(plan.additions):,} additions, "
            f"{len(plan.fixed):,} fixed contracts ({plan_seconds:.1f}s)"
        )
        write_started = time.perf_counter()
        counts = None
        if not config.dry_run:
            counts = sql.write_plan(conn, plan)
            log.info(f"write: {counts} — committing")
        else:
            conn.rollback()
    write_seconds = time.perf_counter() - write_started

    summary_md = markdown_table(reports.summary_rows(plan), reports.SUMMARY_COLUMNS, limit=50)
    notes_md = "\n".join(f"- {n}" for n in plan.notes) or "within one contract of every weighted target"
    facts = {
        "as_of": as_of.isoformat(),
        "dry_run": config.dry_run,
        "run_id": context.run_id,
        "houses": ", ".join(f"{h.user_id} (weight {h.weight})" for h in rules.houses),
        "threshold_days": rules.threshold_days,
        "fixed_effect": rules.fixed_effect,
        "contracts_in_arrears": len(arrears),
        "eligible_contracts": plan.eligible,
        "removed": len(plan.removals),
        "added": len(plan.additions),
        "fixed_contracts": len(plan.fixed),
        "tie_turn": ", ".join(str(h) for h in plan.turn),
    }
    yield dg.MaterializeResult(
        asset_key=CONTRACT_ADVISORS,
        metadata={
            "dagster/row_count": sum(s.total for s in plan.summary) if not config.dry_run else len(holdings),
            "as_of": as_of.isoformat(),
            "dry_run": config.dry_run,
            "summary": dg.MetadataValue.md(summary_md),
            "balance": dg.MetadataValue.md(notes_md),
            "balanced": plan.balanced,
            "removed": len(plan.removals),
            "added": len(plan.additions),
            "fixed_contracts": sum(s.fixed for s in plan.summary),
            "eligible_contracts": plan.eligible,
            "contracts_in_arrears": len(arrears),
            "contracts_of_other_users": plan.other_users_contracts,
            "history_opened": counts.history_opened if counts else 0,
            "history_closed": counts.history_closed if counts else 0,
            "tie_turn": ", ".join(str(h) for h in plan.turn),
            "seconds_read": round(read_seconds, 2),
            "seconds_read_operations": round(ops_read_seconds, 2),
            "seconds_plan": round(plan_seconds, 2),
            "seconds_write": round(write_seconds, 2),
        },
    )

    reports_started = time.perf_counter()
    directory = (
        paths.reports_dir / "collections" / (as_of.isoformat() + ("_dry_run" if config.dry_run else ""))
    )
    files = reports.write_reports(
        plan, directory, fixed_dates={c: f.management_date for c, f in fixed.items()}, facts=facts
    )
    reports_seconds = time.perf_counter() - reports_started
    log.info(f"reports written to {files.directory} in {reports_seconds:.1f}s")
    file_links = {
        f"file_{path.name}": dg.MetadataValue.path(str(path)) for path in [*files.txt.values(), files.excel]
    }
    metadata = {
        "dagster/row_count": len(plan.fixed),
        "as_of": as_of.isoformat(),
        "dry_run": config.dry_run,
        "summary": dg.MetadataValue.md(summary_md),
        "balance": dg.MetadataValue.md(reports.markdown_bars(plan) + "\n\n" + notes_md),
        "directory": dg.MetadataValue.url(files.directory.resolve().as_uri()),
        "seconds_reports": round(reports_seconds, 2),
        **file_links,
    }
    if files.plot is not None:
        metadata["plot"] = dg.MetadataValue.path(str(files.plot))
    yield dg.MaterializeResult(asset_key=ASSIGNMENT_REPORT, metadata=metadata)
