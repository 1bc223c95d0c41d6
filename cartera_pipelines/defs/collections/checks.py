"""Checks on ``operations/contract_advisors``: the invariants of DESIGN §3 read back from the stores.

They read the stores as they are (not the plan), as of the date of the latest run that wrote (a dry
run changes nothing, so it is skipped when looking for that date).
"""

import datetime as dt
from collections import Counter

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.collections import sql
from cartera_pipelines.defs.collections.assets import CONTRACT_ADVISORS
from cartera_pipelines.defs.collections.balancing import weighted_totals
from cartera_pipelines.defs.collections.config import HousesConfig, today_in_bogota
from cartera_pipelines.defs.collections.tables import contract_advisors, contract_advisors_history
from cartera_pipelines.resources import SqlDatabase

NO_CONTRACT_IN_TWO_HOUSES = "no_contract_in_two_houses"
FIXED_HELD_BY_THEIR_HOUSE = "fixed_contracts_held_by_their_house"
NO_ASSIGNMENT_BELOW_THRESHOLD = "no_non_fixed_assignment_below_threshold"
HOUSES_BALANCED = "houses_balanced_to_weights"
ONE_OPEN_HISTORY_ROW = "one_open_history_row_per_assignment"
SAMPLE = 20


def applied_as_of(instance: dg.DagsterInstance) -> dt.date:
    """The run date of the latest materialization that wrote (not a dry run); today if none."""
    for record in instance.fetch_materializations(CONTRACT_ADVISORS, limit=50).records:
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        dry = metadata.get("dry_run")
        if dry is not None and dry.value:
            continue
        if "as_of" in metadata:
            return dt.date.fromisoformat(str(metadata["as_of"].value))
    return today_in_bogota()


def _result(name: str, failures: list, passed_text: str, **extra) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "failures": len(failures),
            "sample": str(failures[:SAMPLE]) if failures else passed_text,
            **extra,
        },
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            NO_CONTRACT_IN_TWO_HOUSES, asset=CONTRACT_ADVISORS, description="No contract has two holders."
        ),
        dg.AssetCheckSpec(
            FIXED_HELD_BY_THEIR_HOUSE,
            asset=CONTRACT_ADVISORS,
            description="Every fixed contract in arrears is held by its house; none is held by another house.",
        ),
        dg.AssetCheckSpec(
            NO_ASSIGNMENT_BELOW_THRESHOLD,
            asset=CONTRACT_ADVISORS,
            description="No house holds a non-fixed contract below the threshold (0–60 days).",
        ),
        dg.AssetCheckSpec(
            HOUSES_BALANCED,
            asset=CONTRACT_ADVISORS,
            description="Each house's total is within one contract of its weighted target, unless its fixed "
            "contracts force more (then the rest is as even as possible).",
        ),
        dg.AssetCheckSpec(
            ONE_OPEN_HISTORY_ROW,
            asset=CONTRACT_ADVISORS,
            description="Every current house assignment has exactly one open history row, and no open row "
            "is left without its assignment.",
        ),
    ],
    can_subset=False,
)
def contract_advisors_checks(
    context: dg.AssetCheckExecutionContext,
    config: HousesConfig,
    lending_db: SqlDatabase,
    operations_db: SqlDatabase,
):
    rules = config.rules()
    houses = rules.house_ids
    as_of = applied_as_of(context.instance)
    with lending_db.connect() as conn:
        arrears = sql.read_arrears(conn, as_of)
    ca, h = contract_advisors, contract_advisors_history
    with operations_db.connect() as conn:
        fixed = {c: f.user_id for c, f in sql.read_fixed(conn, rules).items()}
        holdings = sql.read_holdings(conn)
        duplicates = (
            conn.execute(
                sa.select(ca.c.contract_id)
                .group_by(ca.c.contract_id)
                .having(sa.func.count() > 1)
                .limit(SAMPLE)
            )
            .scalars()
            .all()
        )
        open_rows = (
            sa.select(h.c.contract_id, h.c.user_id, sa.func.count().label("n"))
            .where(h.c.fecha_terminal.is_(None), h.c.user_id.in_(houses))
            .group_by(h.c.contract_id, h.c.user_id)
            .subquery()
        )
        bad_history = conn.execute(
            sa.select(ca.c.contract_id, ca.c.user_id, sa.func.coalesce(open_rows.c.n, 0))
            .select_from(
                ca.outerjoin(
                    open_rows,
                    sa.and_(open_rows.c.contract_id == ca.c.contract_id, open_rows.c.user_id == ca.c.user_id),
                )
            )
            .where(ca.c.user_id.in_(houses), sa.func.coalesce(open_rows.c.n, 0) != 1)
            .limit(SAMPLE)
        ).all()
        still_held = sa.exists().where(ca.c.contract_id == h.c.contract_id, ca.c.user_id == h.c.user_id)
        orphans = conn.execute(
            sa.select(h.c.contract_id, h.c.user_id)
            .where(h.c.fecha_terminal.is_(None), h.c.user_id.in_(houses), ~still_held)
            .limit(SAMPLE)
        ).all()

    holder: dict[int, int] = {}
    for row in holdings:
        holder.setdefault(row.contract_id, row.user_id)
    house_rows = [r for r in holdings if r.user_id in houses]

    yield _result(
        NO_CONTRACT_IN_TWO_HOUSES, list(duplicates), "every contract has one holder", as_of=as_of.isoformat()
    )

    fixed_failures = [
        (c, owner, holder.get(c))
        for c, owner in fixed.items()
        if (holder.get(c) in houses and holder.get(c) != owner) or (c not in holder and arrears.get(c, 0) > 0)
    ]
    yield _result(FIXED_HELD_BY_THEIR_HOUSE, fixed_failures, f"{len(fixed):,} fixed contracts in place")

    below = [
        (r.contract_id, r.user_id, arrears.get(r.contract_id, 0))
        for r in house_rows
        if r.contract_id not in fixed and arrears.get(r.contract_id, 0) < rules.threshold_days
    ]
    yield _result(NO_ASSIGNMENT_BELOW_THRESHOLD, below, "none", threshold_days=rules.threshold_days)

    totals = Counter(r.user_id for r in house_rows)
    fixed_held = Counter(r.user_id for r in house_rows if fixed.get(r.contract_id) == r.user_id)
    total = sum(totals.values())
    weights = {hs.user_id: hs.weight for hs in rules.houses}
    best = weighted_totals(total, weights, fixed_held, totals, houses)
    off = [(u, totals[u], best[u]) for u in houses if abs(totals[u] - best[u]) > 1]
    targets = {str(u): round(total * weights[u] / sum(weights.values()), 1) for u in houses}
    forced = [u for u in houses if fixed_held[u] > total * weights[u] / sum(weights.values())]
    yield _result(
        HOUSES_BALANCED,
        off,
        "within one contract of the best split"
        + (f" (forced by fixed contracts of {forced})" if forced else ""),
        totals=dg.MetadataValue.json({str(u): totals[u] for u in houses}),
        targets=dg.MetadataValue.json(targets),
        fixed_held=dg.MetadataValue.json({str(u): fixed_held[u] for u in houses}),
    )

    history_failures = [("no single open row", *r) for r in bad_history] + [
        ("open row without assignment", *r) for r in orphans
    ]
    yield _result(
        ONE_OPEN_HISTORY_ROW, history_failures, f"{len(house_rows):,} assignments, one open row each"
    )
