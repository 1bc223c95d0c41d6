"""Checks on ``operations/contract_advisors``: the invariants of DESIGN §3 read back from the stores.

They read the stores as they are (not the plan), as of the day of the latest run that wrote (a dry
run changes nothing, so it is skipped when looking for that day). The rules are in ``invariants.py``
(pure) and ``sql.py`` (offenders queries); results through ``lib.checks``.
"""

import dagster as dg

from cartera_pipelines.defs.collections import invariants, run_history, sql
from cartera_pipelines.defs.collections.assets import CONTRACT_ADVISORS
from cartera_pipelines.defs.collections.config import HousesConfig
from cartera_pipelines.lib.checks import offenders_check, rows_check
from cartera_pipelines.lib.dates import BOGOTA, today_in
from cartera_pipelines.resources import SqlDatabase

NO_CONTRACT_IN_TWO_HOUSES = "no_contract_in_two_houses"
FIXED_HELD_BY_THEIR_HOUSE = "fixed_contracts_held_by_their_house"
NO_ASSIGNMENT_BELOW_THRESHOLD = "no_non_fixed_assignment_below_threshold"
HOUSES_BALANCED = "houses_balanced_to_weights"
ONE_OPEN_HISTORY_ROW = "one_open_history_row_per_assignment"


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            NO_CONTRACT_IN_TWO_HOUSES, asset=CONTRACT_ADVISORS, description="No contract has two holders."
        ),
        dg.AssetCheckSpec(
            FIXED_HELD_BY_THEIR_HOUSE,
            asset=CONTRACT_ADVISORS,
            description="Every fixed contract is held by its house, whatever its arrears (one a user that is "
            "not a house holds is left to that user).",
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
    """The invariants as of the latest applied day (today in Bogotá if none)."""
    rules = config.rules()
    applied = run_history.latest_applied(context.instance, CONTRACT_ADVISORS)
    as_of = applied.as_of if applied else today_in(BOGOTA)
    day = {"as_of": as_of.isoformat()}
    with lending_db.connect() as conn:
        arrears = sql.read_arrears(conn, as_of)
    with operations_db.connect() as conn:
        fixed = {contract: f.user_id for contract, f in sql.read_fixed(conn, rules).items()}
        holdings = sql.read_holdings(conn)
        twice, history = sql.contracts_held_twice(conn), sql.history_offenders(conn, rules.house_ids)
        yield offenders_check(
            conn, twice, "contracts held by two users", check_name=NO_CONTRACT_IN_TWO_HOUSES
        )
        what = "house assignments without exactly one open history row, or open rows without their assignment"
        yield offenders_check(conn, history, what, check_name=ONE_OPEN_HISTORY_ROW)
    yield rows_check(
        invariants.misplaced_fixed(fixed, holdings, arrears, rules),
        "fixed contracts not held by their house",
        check_name=FIXED_HELD_BY_THEIR_HOUSE,
        metadata={**day, "fixed_contracts": len(fixed)},
    )
    yield rows_check(
        invariants.below_threshold(fixed, holdings, arrears, rules),
        "non-fixed house assignments below the threshold",
        check_name=NO_ASSIGNMENT_BELOW_THRESHOLD,
        metadata={**day, "threshold_days": rules.threshold_days},
    )
    balance = invariants.balance(fixed, holdings, rules)
    yield rows_check(
        balance.offenders,
        "houses more than one contract from the best split the fixed contracts allow",
        check_name=HOUSES_BALANCED,
        metadata={
            k: v if isinstance(v, str) else dg.MetadataValue.json(v) for k, v in balance.facts().items()
        },
    )
