"""The daily assignment: read arrears (lending) → plan (pure logic) → write in one transaction → reports."""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at runtime.

import dagster as dg

from cartera_pipelines.defs.collections import reports, run_history, sql
from cartera_pipelines.defs.collections.assignment import plan_assignment, refuse_going_back
from cartera_pipelines.defs.collections.balancing import carry_turn
from cartera_pipelines.defs.collections.config import POOL, AssignmentConfig
from cartera_pipelines.defs.collections.partitions import collections_days, day_of
from cartera_pipelines.defs.collections.tables import contract_advisors
from cartera_pipelines.defs.collections.timing import Stopwatch, gc_paused
from cartera_pipelines.lib.metadata import table_metadata
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.resources import CarteraPaths, SqlDatabase

CONTRACT_ADVISORS = dg.AssetKey(["operations", "contract_advisors"])
ASSIGNMENT_REPORT = dg.AssetKey(["reports", "collections_assignment"])

contract_amortization_source = dg.AssetSpec(
    ["lending", "contract_amortization"],
    description="Installments of every lending contract (due date, pending balance). Read-only, MySQL.",
    kinds={"mysql"},
)
contract_status_source = dg.AssetSpec(
    ["lending", "contract_status"],
    description="Status of every lending contract (ACTIVO, CANCELADO, …). Read-only, MySQL.",
    kinds={"mysql"},
)
managements_source = dg.AssetSpec(
    ["operations", "managements"],
    description="Collection managements (who, which effect, when); `pago_total` by a house fixes a contract.",
    kinds={"postgres"},
)


@dg.multi_asset(
    name="collections_assignment",
    specs=[
        dg.AssetSpec(
            CONTRACT_ADVISORS,
            description=(
                "Which collection house holds each contract 61+ days overdue, with its history rows "
                "(`contract_advisors_history`), as of the partition's day in Bogotá. Fixed contracts "
                "(`pago_total` by a house) stay with their house, 0–60-day assignments are removed, new ones "
                "balance the houses to their weights. Deletes, inserts and history commit in one transaction."
            ),
            deps=[contract_amortization_source, contract_status_source, managements_source],
            kinds={"postgres", "python"},
            metadata=table_metadata(contract_advisors),
        ),
        dg.AssetSpec(
            ASSIGNMENT_REPORT,
            description=(
                "The day's files under `reports/collections/<day>/`: `asignacion_<user>.txt` (one contract "
                "id per line, per house) and `reporte_fijos_efect.xlsx` (Contratos Fijos, Resumen, Metadata)."
            ),
            deps=[CONTRACT_ADVISORS],
            kinds={"excel", "python"},
        ),
    ],
    partitions_def=collections_days,
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
    """Assign overdue contracts to the collection houses as of the partition's day; write its reports."""
    rules, as_of, log = config.rules(), day_of(context.partition_key), context.log
    previous = run_history.latest_applied(context.instance, CONTRACT_ADVISORS)
    if not config.dry_run:
        refuse_going_back(as_of, previous.as_of if previous else None)
    turn = carry_turn(previous.next_turn if previous else None, rules.house_ids)
    log.info(f"assignment as of {as_of} ({'dry run' if config.dry_run else 'writing'}), rules {rules}")
    clock = Stopwatch()
    with clock("read"), lending_db.connect() as conn, gc_paused():
        arrears = sql.read_arrears(conn, as_of, Progress(log.info, "arrears", unit="contracts"))
    # The operations reads happen in the write transaction, so the plan is applied to what it saw; a dry
    # run reads on a plain connection, which rolls back when it closes.
    with operations_db.connect() if config.dry_run else operations_db.begin() as conn:
        with clock("read_operations"), gc_paused():
            fixed, holdings = sql.read_fixed(conn, rules, log.warning), sql.read_holdings(conn, log.warning)
        with clock("plan"), gc_paused():
            owners = {contract: f.user_id for contract, f in fixed.items()}
            plan = plan_assignment(
                as_of=as_of, arrears=arrears, holdings=holdings, fixed=owners, rules=rules, turn=turn
            )
        log.info(f"plan: {plan.describe()}")
        clock.start("write")
        counts = None if config.dry_run else sql.write_plan(conn, plan)
    clock.stop("write")
    metadata = reports.assignment_metadata(
        plan, counts, contracts_in_arrears=len(arrears), rows_before=len(holdings), seconds=clock.seconds
    )
    yield dg.MaterializeResult(asset_key=CONTRACT_ADVISORS, metadata=metadata)
    with clock("reports"):
        facts = reports.facts(plan, dry_run=config.dry_run, run_id=context.run.run_id, arrears=len(arrears))
        directory = reports.directory(paths.reports_dir, plan, config.dry_run)
        files = reports.write_reports(plan, directory, fixed=fixed, facts=facts)
    metadata = reports.reports_metadata(plan, files, dry_run=config.dry_run, seconds=clock.seconds["reports"])
    yield dg.MaterializeResult(asset_key=ASSIGNMENT_REPORT, metadata=metadata)
