"""What the discovery sensor decides on each tick (pure: the sensor reads, this decides).

The sensor remembers, per company-year, the location (``<server>:<ARCHIVO>``) it last requested an
extraction from. On each tick it compares that with where the servers' EMPRESAS place each
company-year now and where the last discovery (``tns_companies``) placed it:

- new to the warehouse (no discovery row yet): extract now (the extraction locates it in EMPRESAS
  itself) and run discovery to record it;
- moved (discovery still has the old place): run discovery first; the extraction is requested on a
  later tick, once ``tns_companies`` shows the new place, so it reads what discovery just confirmed;
- on the sensor's first tick (empty cursor), a partition already extracted is taken as done unless
  it moved since discovery: starting the sensor requests no work that is already done.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cartera_pipelines.defs.tns.companies import CompanyYear


@dataclass
class SensorState:
    """The sensor's cursor."""

    requested: dict[str, str] = field(default_factory=dict)
    """company-year → location of its last requested extraction."""
    waiting: dict[str, str] = field(default_factory=dict)
    """company-year → new location that discovery has not recorded yet."""
    failures_after: float | None = None
    """Failed runs updated after this moment (epoch seconds) are still to be reported."""

    @property
    def first_tick(self) -> bool:
        return self.failures_after is None and not self.requested

    @classmethod
    def from_cursor(cls, cursor: str | None) -> SensorState:
        """Also reads the cursor of earlier versions: ``{company_year: location}``."""
        if not cursor:
            return cls()
        data = json.loads(cursor)
        if "requested" not in data:
            return cls(requested=dict(data))
        return cls(dict(data["requested"]), dict(data.get("waiting", {})), data.get("failures_after"))

    def to_cursor(self) -> str:
        return json.dumps(
            {"requested": self.requested, "waiting": self.waiting, "failures_after": self.failures_after},
            sort_keys=True,
        )


@dataclass(frozen=True)
class TickPlan:
    extract: list[CompanyYear]
    """Extractions to request now."""
    discover: dict[str, str]
    """company-year → location that discovery must record (new or moved); empty: no discovery needed."""
    state: SensorState

    def discovery_run_key(self, discovery_mark: str) -> str:
        """One discovery run per set of changes and per discovery materialization (``discovery_mark``), so
        a tick that sees the same changes does not request it twice, and a later discovery that did not
        settle them (a server was down) lets a new one be requested."""
        changes = ",".join(f"{key}@{where}" for key, where in sorted(self.discover.items()))
        return f"discover:{hashlib.sha1(changes.encode()).hexdigest()[:16]}:{discovery_mark}"


def plan_tick(
    found: Iterable[CompanyYear],
    state: SensorState,
    discovered: Mapping[str, str],
    extracted: set[str] | None,
) -> TickPlan:
    """What to request, given the company-years ``found`` in EMPRESAS now, where the last discovery placed
    them (``discovered``: company-year → location) and, on the first tick only, the partitions already
    ``extracted``."""
    requested, waiting = dict(state.requested), {}
    extract: list[CompanyYear] = []
    discover: dict[str, str] = {}
    for company in found:
        key, where = company.key, company.version
        if requested.get(key) == where:
            continue
        recorded = discovered.get(key)
        if recorded is None:
            discover[key] = where
        elif recorded != where:
            discover[key] = waiting[key] = where
            continue
        if extracted is not None and key in extracted:
            requested[key] = where  # first tick: already extracted (from here, or before discovery ran)
            continue
        extract.append(company)
        requested[key] = where
    next_state = SensorState(requested, waiting, state.failures_after)
    return TickPlan(extract, discover, next_state)


def failure_line(
    job: str, run_id: str, partition: str | None, retry_number: int, max_retries: int, error: str | None
) -> str:
    """The sensor's log line for a failed run of its jobs: which, which attempt, whether it is retried."""
    what = f"extraction of {partition}" if partition else job
    attempt = f"attempt {retry_number + 1} of {max_retries + 1}"
    then = (
        "retried automatically"
        if retry_number < max_retries
        else "no retries left: requested again when it moves, by the nightly schedule, or by hand"
    )
    reason = f": {error}" if error else ""
    return f"{what} failed (run {run_id[:8]}, {attempt}; {then}){reason}"
