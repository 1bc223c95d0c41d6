"""The assignment rules as pure logic: clean-up, fixed contracts, balancing, remainders, houses config."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from statistics import mean

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartera_pipelines.defs.collections.assignment import (
    ADD_BALANCE,
    ADD_FIXED,
    REMOVE_BELOW_THRESHOLD,
    REMOVE_DUPLICATE,
    REMOVE_FIXED_ELSEWHERE,
    REMOVE_REBALANCED,
    AssignmentPlan,
    AssignmentRules,
    AssignmentRulesError,
    Holding,
    House,
    RunDateError,
    plan_assignment,
    refuse_going_back,
)
from cartera_pipelines.defs.collections.balancing import carry_turn, weighted_totals

DAY = dt.date(2026, 11, 21)
OLD = dt.date(2026, 1, 1)
RULES = AssignmentRules()


def plan(arrears, holdings=(), fixed=None, rules=RULES, as_of=DAY, turn=None) -> AssignmentPlan:
    return plan_assignment(
        as_of=as_of, arrears=arrears, holdings=list(holdings), fixed=fixed or {}, rules=rules, turn=turn
    )


def totals(p: AssignmentPlan) -> dict[int, int]:
    return {s.user_id: s.total for s in p.summary}


def apply(holdings: list[Holding], p: AssignmentPlan) -> list[Holding]:
    removed = {(c.contract_id, c.user_id) for c in p.removals}
    kept = [h for h in holdings if (h.contract_id, h.user_id) not in removed]
    return kept + [Holding(c.contract_id, c.user_id, p.as_of) for c in p.additions]


def test_even_split_of_new_contracts_highest_arrears_interleaved() -> None:
    arrears = {c: 60 + c for c in range(1, 101)}  # 100 contracts, 61..160 days
    p = plan(arrears)
    assert totals(p) == {45: 50, 81: 50}
    assert all(c.reason == ADD_BALANCE for c in p.additions)
    days = {h: [c.days_overdue for c in p.additions if c.user_id == h] for h in (45, 81)}
    # a similar mix: the two houses' average arrears differ by about one day, not by fifty
    assert abs(mean(days[45]) - mean(days[81])) <= 1
    assert [c.days_overdue for c in p.additions] == sorted(
        (c.days_overdue for c in p.additions), reverse=True
    )


def test_below_threshold_removed_unless_fixed_and_existing_count() -> None:
    arrears = {1: 30, 2: 60, 3: 61, 4: 200, 5: 90, 6: 95}
    holdings = [
        Holding(1, 45, OLD),
        Holding(2, 45, OLD),
        Holding(3, 45, OLD),
        Holding(7, 81, OLD),
    ]  # 7: paid up
    p = plan(arrears, holdings, fixed={2: 45})
    removed = {(c.contract_id, c.user_id): c.reason for c in p.removals}
    assert removed == {(1, 45): REMOVE_BELOW_THRESHOLD, (7, 81): REMOVE_BELOW_THRESHOLD}
    # 45 keeps 2 (fixed, 60 days) and 3; the three unassigned 61+ contracts go to 81 first
    # 2.5 each: the extra goes to the house with fewer contracts (81 holds none after the clean-up)
    assert p.holdings == {45: [2, 3], 81: [4, 5, 6]}
    assert {c.contract_id for c in p.additions} == {4, 5, 6}


def test_odd_remainder_alternates_by_run_whatever_the_dates() -> None:
    """The turn is handed from run to run, not derived from the date: two runs two days apart (a skipped
    day, the same date parity) still alternate."""
    arrears = {c: 100 for c in range(1, 6)}  # 5 contracts, nobody holds any: 2.5 each
    first = plan(arrears, turn=(45, 81))
    assert totals(first) == {45: 3, 81: 2} and first.next_turn == (81, 45)
    # 45 is paid one contract back, a new one reaches the threshold: 2 and 2 held, 5 to share again
    paid = first.holdings[45][0]
    held = [Holding(c, u, DAY) for u, cs in first.holdings.items() for c in cs]
    later = {c: d + 2 for c, d in arrears.items() if c != paid} | {paid: 0, 6: 61}
    second = plan(later, held, as_of=DAY + dt.timedelta(days=2), turn=first.next_turn)
    assert totals(second) == {45: 2, 81: 3} and second.next_turn == (45, 81)
    # the same run again (same turn) decides the same way: a re-run gives the same rows
    assert plan(arrears, turn=(45, 81)).additions == first.additions


def test_a_turn_no_tie_used_is_handed_on_unchanged() -> None:
    p = plan({c: 100 for c in range(1, 5)}, turn=(81, 45))  # 4 contracts: 2 and 2, no remainder
    assert totals(p) == {45: 2, 81: 2} and p.next_turn == (81, 45)
    holdings = [Holding(1, 45, OLD), Holding(2, 45, OLD), Holding(3, 45, OLD), Holding(4, 81, OLD)]
    p = plan({c: 100 for c in range(1, 10)}, holdings, turn=(45, 81))  # the fewer-contracts rule decides
    assert totals(p) == {45: 4, 81: 5} and p.next_turn == (45, 81)


def test_three_houses_take_turns_in_a_round() -> None:
    rules = AssignmentRules(houses=(House(45), House(81), House(99)))
    p = plan({c: 100 for c in range(1, 5)}, rules=rules, turn=(45, 81, 99))  # 4 for 3: one extra
    assert totals(p) == {45: 2, 81: 1, 99: 1} and p.next_turn == (81, 99, 45)
    p = plan({c: 100 for c in range(1, 6)}, rules=rules, turn=(81, 99, 45))  # 5 for 3: two extras
    assert totals(p) == {45: 1, 81: 2, 99: 2} and p.next_turn == (45, 81, 99)


@pytest.mark.parametrize(
    ("stored", "houses", "expected"),
    [
        (None, (45, 81), (45, 81)),  # never ran: the configured order
        ((81, 45), (45, 81), (81, 45)),
        ((81, 45), (45, 81, 99), (81, 45, 99)),  # a new house joins at the end of the round
        ((99, 81, 45), (45, 81), (81, 45)),  # a house that left drops out
        ((), (45, 81), (45, 81)),
    ],
)
def test_the_stored_turn_is_carried_over_to_the_configured_houses(stored, houses, expected) -> None:
    assert carry_turn(stored, houses) == expected


def test_odd_remainder_goes_to_the_house_with_fewer_contracts() -> None:
    arrears = {c: 100 for c in range(1, 10)}
    holdings = [Holding(1, 45, OLD), Holding(2, 45, OLD), Holding(3, 45, OLD), Holding(4, 81, OLD)]
    for turn in ((45, 81), (81, 45)):  # whatever the run's turn
        p = plan(arrears, holdings, turn=turn)
        assert totals(p) == {45: 4, 81: 5}


def test_all_fixed_portfolio_is_never_moved_and_notes_why() -> None:
    arrears = {c: 100 for c in range(1, 11)}
    fixed = {c: 45 for c in range(1, 9)} | {9: 81, 10: 81}
    holdings = [Holding(c, 45, OLD) for c in range(1, 5)]
    p = plan(arrears, holdings, fixed=fixed)
    assert not p.removals
    assert totals(p) == {45: 8, 81: 2}
    assert {c.reason for c in p.additions} == {ADD_FIXED}
    assert len(p.notes) == 1 and "45" in p.notes[0] and "fixed" in p.notes[0]
    assert not p.balanced


def test_fixed_to_another_house_moves_and_every_unassigned_fixed_contract_is_added() -> None:
    arrears = {1: 100, 2: 20, 3: 200}
    holdings = [Holding(1, 45, OLD)]
    # 4: nothing overdue, nobody holds it: its house gets it all the same (DESIGN: every fixed contract
    # ends the run held by its house, whatever its arrears)
    p = plan(arrears, holdings, fixed={1: 81, 2: 45, 4: 81}, turn=(45, 81))
    assert [(c.contract_id, c.user_id, c.reason) for c in p.removals] == [(1, 45, REMOVE_FIXED_ELSEWHERE)]
    actions = {f.contract_id: f.action for f in p.fixed}
    assert actions == {1: "moved", 2: "added", 4: "added"}
    assert (4, 81, 0, ADD_FIXED) in p.additions
    # 2 fixed to 81, 1 to 45, one more to share: 2 each
    assert p.holdings == {45: [2, 3], 81: [1, 4]}


def test_one_house_empty_gets_the_new_contracts_and_moves_only_when_needed() -> None:
    arrears = {c: 100 + c for c in range(1, 21)}
    holdings = [Holding(c, 45, OLD + dt.timedelta(days=c)) for c in range(1, 11)]  # 45 holds 10, 81 none
    p = plan(arrears, holdings)
    assert totals(p) == {45: 10, 81: 10} and not p.removals
    # 45 holds 14 and only 2 new ones exist: the fewest moves (2), most recently assigned first
    holdings = [Holding(c, 45, OLD + dt.timedelta(days=c)) for c in range(1, 15)]
    p = plan({c: 100 for c in range(1, 17)}, holdings)
    assert totals(p) == {45: 8, 81: 8}
    moved = sorted(c.contract_id for c in p.removals)
    assert moved == [9, 10, 11, 12, 13, 14] and {c.reason for c in p.removals} == {REMOVE_REBALANCED}


def test_three_houses_share_by_weight() -> None:
    rules = AssignmentRules(houses=(House(45, 1), House(81, 1), House(99, 1)))
    p = plan({c: 100 for c in range(1, 101)}, rules=rules)
    assert sorted(totals(p).values()) == [33, 33, 34]
    p = plan({c: 100 for c in range(1, 101)}, [Holding(c, 99, OLD) for c in range(1, 31)], rules=rules)
    assert sorted(totals(p).values()) == [33, 33, 34] and totals(p)[99] >= 30


def test_sixty_forty_weights() -> None:
    rules = AssignmentRules(houses=(House(45, 60), House(81, 40)))
    assert totals(plan({c: 100 for c in range(1, 101)}, rules=rules)) == {45: 60, 81: 40}
    assert totals(plan({c: 100 for c in range(1, 12)}, rules=rules)) == {45: 7, 81: 4}  # 6.6 / 4.4


def test_legacy_duplicates_and_other_users() -> None:
    arrears = {1: 100, 2: 100, 3: 100}
    holdings = [Holding(1, 45, OLD), Holding(1, 81, OLD + dt.timedelta(days=3)), Holding(3, 12, OLD)]
    p = plan(arrears, holdings, fixed={1: 81})
    assert (1, 45, REMOVE_DUPLICATE) in [(c.contract_id, c.user_id, c.reason) for c in p.removals]
    assert 3 not in p.holdings[45] + p.holdings[81]  # held by user 12: left alone
    assert p.other_users_contracts == 1


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(AssignmentRulesError, match="unique"):
        AssignmentRules(houses=(House(45), House(45)))
    with pytest.raises(AssignmentRulesError, match="positive"):
        AssignmentRules(houses=(House(45, 0),))
    with pytest.raises(AssignmentRulesError, match="not houses"):
        plan({1: 100}, fixed={1: 12})


def test_weighted_totals_pins_houses_over_their_share() -> None:
    result = weighted_totals(10, {1: 1, 2: 1, 3: 1}, {1: 7}, {1: 7}, (1, 2, 3))
    assert result[1] == 7 and sorted([result[2], result[3]]) == [1, 2]


holding_strategy = st.lists(
    st.tuples(st.integers(1, 60), st.sampled_from([45, 81, 99, 12]), st.integers(0, 400)), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(
    arrears=st.dictionaries(st.integers(1, 60), st.integers(1, 400), max_size=60),
    raw_holdings=holding_strategy,
    fixed=st.dictionaries(st.integers(1, 60), st.sampled_from([45, 81, 99]), max_size=15),
    three=st.booleans(),
    weights=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
    turn_seed=st.integers(0, 5),
)
def test_invariants_hold_for_any_portfolio(arrears, raw_holdings, fixed, three, weights, turn_seed) -> None:
    houses = (House(45, weights[0]), House(81, weights[1])) + ((House(99, weights[2]),) if three else ())
    rules = AssignmentRules(houses=houses)
    ids = set(rules.house_ids)
    fixed = {c: u for c, u in fixed.items() if u in ids}
    seen: set[int] = set()
    holdings = []
    for c, u, age in raw_holdings:  # one row per contract (the store's unique constraint)
        if c not in seen:
            seen.add(c)
            holdings.append(Holding(c, u, DAY - dt.timedelta(days=age)))
    ids_in_order = rules.house_ids
    turn = ids_in_order[turn_seed % len(ids_in_order) :] + ids_in_order[: turn_seed % len(ids_in_order)]
    p = plan(arrears, holdings, fixed=fixed, rules=rules, turn=turn)
    assert sorted(p.next_turn) == sorted(ids_in_order)
    after = apply(holdings, p)
    holders = Counter(h.contract_id for h in after)
    assert max(holders.values(), default=1) == 1, "a contract held twice"
    by_contract = {h.contract_id: h.user_id for h in after}
    for c, owner in fixed.items():
        if by_contract.get(c) in ids:
            assert by_contract[c] == owner
        if c not in {h.contract_id for h in holdings if h.user_id not in ids}:
            assert by_contract.get(c) == owner, "a fixed contract not held by its house"
    for h in after:
        if h.user_id in ids and h.contract_id not in fixed:
            assert arrears.get(h.contract_id, 0) >= rules.threshold_days
    others = {h.contract_id for h in holdings if h.user_id not in ids}
    for c, d in arrears.items():
        if d >= rules.threshold_days and c not in others:
            assert c in by_contract, "an eligible contract left unassigned"
    count = Counter(h.user_id for h in after if h.user_id in ids)
    fixed_held = Counter(h.user_id for h in after if fixed.get(h.contract_id) == h.user_id)
    best = weighted_totals(
        sum(count.values()), {x.user_id: x.weight for x in houses}, fixed_held, count, rules.house_ids
    )
    assert all(abs(count[u] - best[u]) <= 1 for u in ids)
    assert totals(p) == {u: count[u] for u in rules.house_ids}
    # idempotent: planning again on the result changes nothing, whatever the turn then
    again = plan(arrears, after, fixed=fixed, rules=rules, turn=p.next_turn)
    assert not again.removals and not again.additions


def test_a_run_never_applies_a_day_older_than_the_latest_applied() -> None:
    refuse_going_back(DAY, None)
    refuse_going_back(DAY, DAY)  # a re-run of the same day
    refuse_going_back(DAY + dt.timedelta(days=3), DAY)  # skipped days are simply skipped
    with pytest.raises(RunDateError, match="back in time"):
        refuse_going_back(DAY, DAY + dt.timedelta(days=1))
