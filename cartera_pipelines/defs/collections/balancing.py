"""How the houses share the portfolio: weighted totals, remainders, the tie turn, the mix of arrears.

Pure typed logic (no Dagster, no I/O), used by :mod:`assignment` to plan a run and by the checks to
know the best split the fixed contracts allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction


def carry_turn(stored: Sequence[int] | None, house_ids: Sequence[int]) -> tuple[int, ...]:
    """The turn a run starts from: the order the previous run handed on (``stored``) for the houses still
    configured, then any new house in the configured order; the configured order when nothing is stored."""
    kept = [h for h in stored or () if h in house_ids]
    return tuple(kept + [h for h in house_ids if h not in kept])


def next_turn(turn: Sequence[int], winners: Sequence[int]) -> tuple[int, ...]:
    """The turn after a run in which ``winners`` got an extra contract by their turn: they go to the back
    of the round, in their order, so the next tie goes to a house that has not had one (a run without a
    tie decided by turn hands the turn on unchanged)."""
    return tuple([h for h in turn if h not in winners] + [h for h in turn if h in winners])


@dataclass(frozen=True)
class Split:
    totals: dict[int, int]
    """Each house's total."""
    turn_winners: tuple[int, ...]
    """Houses that got a remainder contract only because it was their turn (all else being equal)."""


def _pinned(total: int, weights: Mapping[int, int], floors: Mapping[int, int]) -> dict[int, int]:
    """Houses whose floor (their fixed contracts) is at or above their weighted share, at their floor.

    Water-filling: pinning a house shrinks the rest the others share, which may pin another one.
    """
    pinned: dict[int, int] = {}
    while True:
        active = [h for h in weights if h not in pinned]
        rest = total - sum(pinned.values())
        weight_sum = sum(weights[h] for h in active)
        newly = [h for h in active if floors.get(h, 0) >= Fraction(rest * weights[h], weight_sum)]
        if not newly or len(newly) == len(active):
            if newly:  # every remaining house is at or over its share: they keep their floors
                pinned.update({h: floors.get(h, 0) for h in newly})
            return pinned
        pinned.update({h: floors.get(h, 0) for h in newly})


def split_by_weight(
    total: int,
    weights: Mapping[int, int],
    floors: Mapping[int, int],
    current: Mapping[int, int],
    turn: Sequence[int],
) -> Split:
    """Integer totals per house summing to ``total``, as close to the weights as the ``floors`` allow.

    A house whose floor (its fixed contracts) is above its weighted share is pinned at the floor and
    the rest is shared by the others (water-filling). Remainders go first to houses whose ``current``
    count is already above their whole share, then by larger fraction, fewer ``current``, and when all
    of those are equal, by ``turn``.
    """
    if total < sum(floors.get(h, 0) for h in weights):
        raise ValueError("floors exceed the total")
    result = _pinned(total, weights, floors)
    active = [h for h in weights if h not in result]
    if not active:
        return Split(result, ())
    rest = total - sum(result.values())
    weight_sum = sum(weights[h] for h in active)
    shares = {h: Fraction(rest * weights[h], weight_sum) for h in active}
    result.update({h: int(shares[h]) for h in active})
    remainder = rest - sum(result[h] for h in active)

    # A house already above its whole share keeps its extra contract (a remainder never causes a
    # move, so a re-run is stable); then the larger fraction, fewer contracts, the run's turn.
    def rank(h: int) -> tuple[bool, Fraction, int]:
        return (current.get(h, 0) <= result[h], -(shares[h] - int(shares[h])), current.get(h, 0))

    order = sorted(active, key=lambda h: (*rank(h), turn.index(h)))
    winners, losers = order[:remainder], order[remainder:]
    for h in winners:
        result[h] += 1
    # the turn decided only if the last winner and the first loser are equal on everything else
    tied = rank(winners[-1]) if winners and losers and rank(winners[-1]) == rank(losers[0]) else None
    return Split(result, tuple(h for h in winners if rank(h) == tied))


def weighted_totals(
    total: int,
    weights: Mapping[int, int],
    floors: Mapping[int, int],
    current: Mapping[int, int],
    turn: Sequence[int],
) -> dict[int, int]:
    """The totals of :func:`split_by_weight` (what the checks compare the store with)."""
    return split_by_weight(total, weights, floors, current, turn).totals


def interleave(
    pool: Sequence[tuple[int, int]], needs: Mapping[int, int], turn: Sequence[int]
) -> list[tuple[int, int, int]]:
    """Hand out ``pool`` (contract, days; highest arrears first) so each house's slice has a similar mix.

    A house that needs n contracts takes the pool positions closest to (j + ½)/n of the way down,
    j = 0…n−1: the houses' shares are spread evenly over the arrears ranking (ties by turn). Computed as
    one sort of slot keys, not a per-contract loop. Returns (contract, house, days) triples.
    """
    houses = [h for h in turn if needs.get(h, 0) > 0]
    slots = sorted(
        ((2 * j + 1) / (2 * needs[h]), rank) for rank, h in enumerate(houses) for j in range(needs[h])
    )
    return [
        (contract_id, houses[rank], days) for (contract_id, days), (_, rank) in zip(pool, slots, strict=True)
    ]
