"""The invariants of DESIGN §3 "collections", computed on the store as read back (pure, for the checks).

Each function returns the offenders as rows (dicts) for ``lib.checks.rows_check``: empty when it holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cartera_pipelines.defs.collections.assignment import AssignmentRules, Holding
from cartera_pipelines.defs.collections.balancing import weighted_totals


def _holder(holdings: Iterable[Holding]) -> dict[int, int]:
    holder: dict[int, int] = {}
    for row in holdings:
        holder.setdefault(row.contract_id, row.user_id)
    return holder


def misplaced_fixed(
    fixed: Mapping[int, int], holdings: Iterable[Holding], arrears: Mapping[int, int], rules: AssignmentRules
) -> list[dict[str, object]]:
    """Fixed contracts not held by their house (held by another house, or by nobody whatever their
    arrears); one held by a user that is not a house is left to that user."""
    holder = _holder(holdings)
    houses = set(rules.house_ids)
    rows = []
    for contract_id, owner in sorted(fixed.items()):
        held_by = holder.get(contract_id)
        if held_by != owner and (held_by is None or held_by in houses):
            rows.append(
                {
                    "contract_id": contract_id,
                    "house": owner,
                    "held_by": held_by,
                    "days": arrears.get(contract_id, 0),
                }
            )
    return rows


def below_threshold(
    fixed: Mapping[int, int], holdings: Iterable[Holding], arrears: Mapping[int, int], rules: AssignmentRules
) -> list[dict[str, object]]:
    """Non-fixed house assignments of contracts below the threshold."""
    houses = set(rules.house_ids)
    return [
        {"contract_id": r.contract_id, "house": r.user_id, "days_overdue": arrears.get(r.contract_id, 0)}
        for r in sorted(holdings)
        if r.user_id in houses
        and r.contract_id not in fixed
        and arrears.get(r.contract_id, 0) < rules.threshold_days
    ]


@dataclass(frozen=True)
class Balance:
    offenders: list[dict[str, object]]
    """Houses more than one contract away from the best split the fixed contracts allow."""
    totals: dict[int, int]
    targets: dict[int, float]
    fixed_held: dict[int, int]
    forced: list[int]
    """Houses whose fixed contracts alone are above their weighted share."""

    def facts(self) -> dict[str, object]:
        """Per-house totals, targets and fixed contracts (JSON-ready), and the houses fixed ones force."""
        return {
            "totals": {str(u): n for u, n in self.totals.items()},
            "targets": {str(u): n for u, n in self.targets.items()},
            "fixed_held": {str(u): n for u, n in self.fixed_held.items()},
            "forced_by_fixed_contracts": ", ".join(str(u) for u in self.forced) or "none",
        }


def balance(fixed: Mapping[int, int], holdings: Iterable[Holding], rules: AssignmentRules) -> Balance:
    houses = rules.house_ids
    house_rows = [r for r in holdings if r.user_id in set(houses)]
    totals = Counter(r.user_id for r in house_rows)
    fixed_held = Counter(r.user_id for r in house_rows if fixed.get(r.contract_id) == r.user_id)
    total = sum(totals.values())
    weights = {h.user_id: h.weight for h in rules.houses}
    weight_sum = sum(weights.values())
    best = weighted_totals(total, weights, fixed_held, totals, houses)
    return Balance(
        offenders=[
            {"house": u, "total": totals[u], "best": best[u]} for u in houses if abs(totals[u] - best[u]) > 1
        ],
        totals={u: totals[u] for u in houses},
        targets={u: round(total * weights[u] / weight_sum, 1) for u in houses},
        fixed_held={u: fixed_held[u] for u in houses},
        forced=[u for u in houses if fixed_held[u] > total * weights[u] / weight_sum],
    )
