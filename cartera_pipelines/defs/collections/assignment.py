"""The assignment of overdue contracts to collection houses, as pure typed logic (no Dagster, no I/O).

Given the run date, each contract's days overdue, the current assignments and the fixed contracts,
:func:`plan_assignment` returns an :class:`AssignmentPlan`: what to remove, what to add, the fixed
contracts and a summary per house. The rules (DESIGN §3 "collections"):

1. A contract fixed to a house (latest management with the fixed effect by a house user) is never
   removed from that house. If another house holds it, it moves to its house; if nobody holds it, it is
   assigned to its house before balancing, whatever its arrears (0 days included).
2. Clean-up: a non-fixed assignment of a contract now below the threshold (0–60 days, which includes
   contracts no longer in arrears or no longer ``ACTIVO``) is removed.
3. Balancing: contracts at or above the threshold that nobody holds are added so that the houses'
   totals follow their weights, existing assignments counting. Only fixed contracts can force a house
   above its target; when the additions alone cannot reach the targets (a house kept more than its
   share), the fewest non-fixed contracts needed are moved, most recently assigned first. The
   contracts handed out are taken highest arrears first and interleaved in proportion to each house's
   need, so every house gets a similar mix of arrears.
4. Remainders: when the total does not split exactly, an extra contract stays with a house that
   already holds more than its whole share (a remainder never causes a move), then goes to the house
   with the larger fractional share, then to the house with fewer contracts, and when those are equal
   to the house whose turn it is. The turn is handed from run to run (``turn`` in, ``next_turn`` out): a
   house that won a tie by its turn goes to the back of the round, whatever the dates (a skipped day
   never gives a house two turns). A re-run is stable whatever its turn: the extra contract stays with
   the house that already holds it.
5. Contracts held by users that are not houses are left alone and never given to a house (the
   operations store allows one holder per contract).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from cartera_pipelines.defs.collections.balancing import interleave, next_turn, split_by_weight

REMOVE_BELOW_THRESHOLD = "below_threshold"
REMOVE_FIXED_ELSEWHERE = "fixed_to_other_house"
REMOVE_REBALANCED = "rebalanced"
REMOVE_DUPLICATE = "duplicate"
ADD_FIXED = "fixed"
ADD_BALANCE = "balance"


class AssignmentRulesError(ValueError):
    """The houses, weights or threshold given as configuration are not usable."""


class RunDateError(ValueError):
    """A run would apply a day older than the latest day already applied."""


def refuse_going_back(as_of: dt.date, latest_applied: dt.date | None) -> None:
    """A run may change the store only for its day or a later one than the latest applied: applying an
    older day (a backfill of a skipped day after later days ran) would take the portfolio back in time."""
    if latest_applied is not None and as_of < latest_applied:
        raise RunDateError(
            f"the assignment of {as_of} is older than the latest applied one ({latest_applied}): applying it "
            "would take the portfolio back in time; run it as a dry run to see that day's plan"
        )


@dataclass(frozen=True, slots=True)
class House:
    user_id: int
    weight: int = 1
    """Share of the portfolio, proportional (50/50, 60/40, 1/1/1 …)."""


@dataclass(frozen=True)
class AssignmentRules:
    houses: tuple[House, ...] = (House(45, 1), House(81, 1))
    threshold_days: int = 61
    fixed_effect: str = "pago_total"

    def __post_init__(self) -> None:
        if not self.houses:
            raise AssignmentRulesError("at least one collection house is needed")
        ids = [h.user_id for h in self.houses]
        if len(set(ids)) != len(ids):
            raise AssignmentRulesError(f"house user ids must be unique, got {ids}")
        bad = [h for h in self.houses if h.weight <= 0]
        if bad:
            raise AssignmentRulesError(
                f"house weights must be positive integers, got {[(h.user_id, h.weight) for h in bad]}"
            )
        if self.threshold_days < 1:
            raise AssignmentRulesError(f"threshold_days must be at least 1, got {self.threshold_days}")
        if not self.fixed_effect.strip():
            raise AssignmentRulesError("fixed_effect must not be empty")

    @property
    def house_ids(self) -> tuple[int, ...]:
        return tuple(h.user_id for h in self.houses)


# The per-contract records are NamedTuples: typed and immutable like frozen dataclasses, but several
# times cheaper to build, which matters at a million contracts per run.
class Holding(NamedTuple):
    """A row of ``contract_advisors``: ``contract_id`` held by ``user_id`` since ``assigned_date``."""

    contract_id: int
    user_id: int
    assigned_date: dt.date


class Change(NamedTuple):
    """A removal or an addition, with the contract's days overdue and why."""

    contract_id: int
    user_id: int
    days_overdue: int
    reason: str


class FixedContract(NamedTuple):
    contract_id: int
    user_id: int
    days_overdue: int
    action: str
    """``kept`` (already held by its house), ``added`` (nobody held it), ``moved`` (taken from another
    house) or ``held_by_other_user`` (a user that is not a house holds it: left alone)."""


@dataclass(frozen=True, slots=True)
class HouseSummary:
    user_id: int
    weight: int
    before: int
    kept: int
    removed: int
    added: int
    fixed: int
    total: int
    target: Fraction
    """The weighted share of all assigned contracts (exact)."""

    @property
    def deviation(self) -> Fraction:
        return self.total - self.target


@dataclass(frozen=True)
class AssignmentPlan:
    as_of: dt.date
    rules: AssignmentRules
    removals: list[Change]
    additions: list[Change]
    fixed: list[FixedContract]
    summary: tuple[HouseSummary, ...]
    holdings: dict[int, list[int]]
    """Each house's contracts after the plan, sorted."""
    notes: tuple[str, ...] = ()
    """Why the totals are not within one contract of the targets (fixed contracts forcing it)."""
    turn: tuple[int, ...] = ()
    """House order for equal remainders in this run (handed on by the previous run)."""
    next_turn: tuple[int, ...] = ()
    """The order the next run starts from: houses that won a tie by their turn moved to the back."""
    other_users_contracts: int = 0
    eligible: int = 0
    """Contracts at or above the threshold (the portfolio the houses share, plus fixed ones)."""

    def describe(self) -> str:
        return (
            f"{len(self.removals):,} removals, {len(self.additions):,} additions, {len(self.fixed):,} fixed"
        )

    @property
    def balanced(self) -> bool:
        return all(abs(h.deviation) <= 1 for h in self.summary)


@dataclass
class _Draft:
    """What the steps of a plan decide, in the order they decide it."""

    removals: list[Change] = field(default_factory=list)
    additions: list[Change] = field(default_factory=list)
    fixed: list[FixedContract] = field(default_factory=list)


@dataclass
class _Holders:
    """Step 1's view of ``contract_advisors``: one house row per contract, and who else holds what."""

    held: dict[int, Holding]
    before: dict[int, int]
    other_users: set[int]


@dataclass
class _Sorted:
    """Step 2's result per house: fixed contracts it keeps or gets, and the ones balancing may move."""

    locked: dict[int, int]
    movable: dict[int, list[Holding]]


def plan_assignment(
    *,
    as_of: dt.date,
    arrears: Mapping[int, int],
    holdings: Iterable[Holding],
    fixed: Mapping[int, int],
    rules: AssignmentRules,
    turn: Sequence[int] | None = None,
) -> AssignmentPlan:
    """The plan for ``as_of``.

    ``arrears``: days overdue of every ``ACTIVO`` contract with an overdue unpaid installment (others
    count as 0). ``holdings``: every row of ``contract_advisors``. ``fixed``: contract → house user id
    of its latest management with the fixed effect by a house user. ``turn``: the order in which houses
    win equal remainders, as the previous run handed it on (``balancing.carry_turn``); the configured
    order when ``None``.
    """
    unknown_fixed = {u for u in fixed.values() if u not in set(rules.house_ids)}
    if unknown_fixed:
        raise AssignmentRulesError(
            f"fixed contracts point at users that are not houses: {sorted(unknown_fixed)}"
        )
    turn = tuple(turn) if turn is not None else rules.house_ids
    if sorted(turn) != sorted(rules.house_ids):
        raise AssignmentRulesError(f"the turn {turn} does not list the houses {rules.house_ids}")
    draft = _Draft()
    holders = _one_holder_per_contract(holdings, fixed, arrears, rules, draft)
    sorted_out = _fixed_and_clean_up(holders, fixed, arrears, rules, draft)
    winners = _balance(holders, sorted_out, fixed, arrears, rules, turn, draft)
    return _summarise(as_of, rules, holders, arrears, (turn, next_turn(turn, winners)), draft)


def _one_holder_per_contract(
    holdings: Iterable[Holding],
    fixed: Mapping[int, int],
    arrears: Mapping[int, int],
    rules: AssignmentRules,
    draft: _Draft,
) -> _Holders:
    """Step 1: the current holdings, one per contract (a legacy duplicate keeps the fixed house, else
    the oldest); a house sharing a contract with a user that is not a house lets it go."""
    houses = rules.house_ids
    house_set = set(houses)
    held: dict[int, Holding] = {}
    before: dict[int, int] = defaultdict(int)
    other_users: set[int] = set()
    duplicates: dict[int, list[Holding]] = {}
    for holding in holdings:
        if holding.user_id in house_set:
            before[holding.user_id] += 1
            first = held.setdefault(holding.contract_id, holding)
            if first is not holding:
                duplicates.setdefault(holding.contract_id, [first]).append(holding)
        else:
            other_users.add(holding.contract_id)
    for contract_id, rows in duplicates.items():
        owner = fixed.get(contract_id)
        rows.sort(key=lambda r: (r.user_id != owner, r.assigned_date, houses.index(r.user_id)))
        held[contract_id] = rows[0]
        for row in rows[1:]:
            draft.removals.append(
                Change(contract_id, row.user_id, arrears.get(contract_id, 0), REMOVE_DUPLICATE)
            )
    for contract_id in other_users & held.keys():
        draft.removals.append(
            Change(contract_id, held.pop(contract_id).user_id, arrears.get(contract_id, 0), REMOVE_DUPLICATE)
        )
    return _Holders(held=held, before=before, other_users=other_users)


def _fixed_and_clean_up(
    holders: _Holders,
    fixed: Mapping[int, int],
    arrears: Mapping[int, int],
    rules: AssignmentRules,
    draft: _Draft,
) -> _Sorted:
    """Step 2: fixed contracts stay with (or move to, or are added to) their house, whatever their
    arrears; a non-fixed assignment below the threshold is removed; the rest may be moved by balancing."""
    houses = rules.house_ids
    locked: dict[int, int] = {h: 0 for h in houses}
    movable: dict[int, list[Holding]] = {h: [] for h in houses}
    for contract_id, holding in holders.held.items():
        days = arrears.get(contract_id, 0)
        owner = fixed.get(contract_id)
        if owner is not None:
            if owner == holding.user_id:
                draft.fixed.append(FixedContract(contract_id, owner, days, "kept"))
            else:
                draft.removals.append(Change(contract_id, holding.user_id, days, REMOVE_FIXED_ELSEWHERE))
                draft.additions.append(Change(contract_id, owner, days, ADD_FIXED))
                draft.fixed.append(FixedContract(contract_id, owner, days, "moved"))
            locked[owner] += 1
        elif days < rules.threshold_days:
            draft.removals.append(Change(contract_id, holding.user_id, days, REMOVE_BELOW_THRESHOLD))
        else:
            movable[holding.user_id].append(holding)
    for contract_id, owner in fixed.items():
        if contract_id in holders.held:
            continue
        days = arrears.get(contract_id, 0)
        if contract_id in holders.other_users:
            draft.fixed.append(FixedContract(contract_id, owner, days, "held_by_other_user"))
        else:  # whatever its arrears: the agreement is the house's (0 days included)
            draft.additions.append(Change(contract_id, owner, days, ADD_FIXED))
            locked[owner] += 1
            draft.fixed.append(FixedContract(contract_id, owner, days, "added"))
    return _Sorted(locked=locked, movable=movable)


def _balance(
    holders: _Holders,
    sorted_out: _Sorted,
    fixed: Mapping[int, int],
    arrears: Mapping[int, int],
    rules: AssignmentRules,
    turn: tuple[int, ...],
    draft: _Draft,
) -> tuple[int, ...]:
    """Step 3: the pool (eligible, unheld, not fixed, not another user's) tops each house up to its
    weighted total; a house above its total first gives up its most recently assigned non-fixed ones.
    Returns the houses that won a remainder by their turn."""
    houses = rules.house_ids
    locked, movable = sorted_out.locked, sorted_out.movable
    held, other_users = holders.held, holders.other_users
    # (-days, contract): sorting plain tuples orders highest arrears first, then contract id
    pool = [
        (-d, c)
        for c, d in arrears.items()
        if d >= rules.threshold_days and c not in held and c not in fixed and c not in other_users
    ]
    current = {h: locked[h] + len(movable[h]) for h in houses}
    weights = {h.user_id: h.weight for h in rules.houses}
    split = split_by_weight(sum(current.values()) + len(pool), weights, locked, current, turn)
    finals = split.totals
    for h in houses:
        surplus = current[h] - finals[h]
        if surplus > 0:
            movable[h].sort(key=lambda r: (r.assigned_date, r.contract_id))
            for row in movable[h][len(movable[h]) - surplus :]:
                days = arrears.get(row.contract_id, 0)
                draft.removals.append(Change(row.contract_id, h, days, REMOVE_REBALANCED))
                pool.append((-days, row.contract_id))
            del movable[h][len(movable[h]) - surplus :]
    needs = {h: finals[h] - locked[h] - len(movable[h]) for h in houses}
    pool.sort()
    for contract_id, house, days in interleave([(c, -d) for d, c in pool], needs, turn):
        draft.additions.append(Change(contract_id, house, days, ADD_BALANCE))
    return split.turn_winners


def _summarise(
    as_of: dt.date,
    rules: AssignmentRules,
    holders: _Holders,
    arrears: Mapping[int, int],
    turns: tuple[tuple[int, ...], tuple[int, ...]],
    draft: _Draft,
) -> AssignmentPlan:
    """Step 4: each house's contracts after the plan, its summary and the notes on the balance."""
    final_holdings = _final_holdings(holders, rules, draft)
    summary = _house_summaries(final_holdings, holders, rules, draft)
    notes = tuple(
        f"house {s.user_id} holds {s.fixed} fixed contracts, above its weighted target of {float(s.target):.1f}: "
        f"fixed contracts are never moved, so the other houses share the rest as evenly as possible"
        for s in summary
        if s.deviation > 1 and s.fixed > s.target
    )
    draft.removals.sort(key=lambda c: (c.user_id, c.contract_id))
    return AssignmentPlan(
        as_of=as_of,
        rules=rules,
        removals=draft.removals,
        additions=draft.additions,
        fixed=sorted(draft.fixed, key=lambda f: f.contract_id),
        summary=summary,
        holdings=final_holdings,
        notes=notes,
        turn=turns[0],
        next_turn=turns[1],
        other_users_contracts=len(holders.other_users),
        eligible=sum(1 for d in arrears.values() if d >= rules.threshold_days),
    )


def _final_holdings(holders: _Holders, rules: AssignmentRules, draft: _Draft) -> dict[int, list[int]]:
    """Each house's contracts, sorted, once the removals and additions are applied."""
    final_holdings: dict[int, list[int]] = {h: [] for h in rules.house_ids}
    # every removal other than a duplicate row takes the contract from its (single) held row
    released = {c.contract_id for c in draft.removals if c.reason != REMOVE_DUPLICATE}
    for contract_id, holding in holders.held.items():
        if contract_id not in released:
            final_holdings[holding.user_id].append(contract_id)
    for change in draft.additions:
        final_holdings[change.user_id].append(change.contract_id)
    for contracts in final_holdings.values():
        contracts.sort()
    return final_holdings


def _house_summaries(
    final_holdings: dict[int, list[int]], holders: _Holders, rules: AssignmentRules, draft: _Draft
) -> tuple[HouseSummary, ...]:
    weights = {h.user_id: h.weight for h in rules.houses}
    grand_total = sum(len(v) for v in final_holdings.values())
    weight_sum = sum(weights.values())
    removed_by = Counter(c.user_id for c in draft.removals)
    added_by = Counter(c.user_id for c in draft.additions)
    fixed_by = Counter(f.user_id for f in draft.fixed if f.action in ("kept", "added", "moved"))
    return tuple(
        HouseSummary(
            user_id=h,
            weight=weights[h],
            before=holders.before[h],
            kept=holders.before[h] - removed_by[h],
            removed=removed_by[h],
            added=added_by[h],
            fixed=fixed_by[h],
            total=len(final_holdings[h]),
            target=Fraction(grand_total * weights[h], weight_sum),
        )
        for h in rules.house_ids
    )
