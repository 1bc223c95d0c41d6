"""What the discovery sensor requests (pure): new, moved and already extracted company-years."""

from __future__ import annotations

from cartera_pipelines.defs.tns.companies import CompanyYear
from cartera_pipelines.defs.tns.nit import parse_nit
from cartera_pipelines.defs.tns.tracking import SensorState, failure_line, plan_tick


def _company(year: int, server: str = "uno", archivo: str = "A.FDB") -> CompanyYear:
    return CompanyYear(server, "001", "Andina", parse_nit("900123456-8"), "900123456-8", year, archivo)


def test_new_company_years_are_extracted_now_and_recorded_by_discovery() -> None:
    plan = plan_tick([_company(2025)], SensorState(), discovered={}, extracted=set())
    assert [c.key for c in plan.extract] == ["900123456_2025"]
    assert plan.discover == {"900123456_2025": "uno:A.FDB"}
    assert plan.state.requested == {"900123456_2025": "uno:A.FDB"} and plan.state.waiting == {}


def test_a_moved_company_year_waits_for_discovery_then_is_extracted_from_the_new_place() -> None:
    state = SensorState(requested={"900123456_2025": "uno:A.FDB"}, failures_after=1.0)
    moved = _company(2025, "dos", "B.FDB")
    first = plan_tick([moved], state, discovered={"900123456_2025": "uno:A.FDB"}, extracted=None)
    assert first.extract == [] and first.discover == {"900123456_2025": "dos:B.FDB"}
    assert first.state.waiting == {"900123456_2025": "dos:B.FDB"}
    # the same tick again: the same discovery run key (not requested twice)
    again = plan_tick([moved], first.state, discovered={"900123456_2025": "uno:A.FDB"}, extracted=None)
    assert again.discovery_run_key("m1") == first.discovery_run_key("m1") != first.discovery_run_key("m2")
    after = plan_tick([moved], again.state, discovered={"900123456_2025": "dos:B.FDB"}, extracted=None)
    assert after.extract == [moved] and after.discover == {} and after.state.waiting == {}
    assert after.state.requested == {"900123456_2025": "dos:B.FDB"}
    settled = plan_tick([moved], after.state, discovered={"900123456_2025": "dos:B.FDB"}, extracted=None)
    assert settled.extract == [] and settled.discover == {}


def test_first_tick_takes_extracted_partitions_as_done_unless_they_moved() -> None:
    companies = [_company(2024), _company(2025), _company(2023, "dos", "C.FDB")]
    discovered = {
        "900123456_2024": "uno:A.FDB",
        "900123456_2025": "uno:A.FDB",
        "900123456_2023": "uno:OLD.FDB",
    }
    plan = plan_tick(companies, SensorState(), discovered, extracted={"900123456_2024", "900123456_2023"})
    assert [c.key for c in plan.extract] == ["900123456_2025"]
    assert plan.discover == {"900123456_2023": "dos:C.FDB"}


def test_the_cursor_of_earlier_versions_is_read() -> None:
    state = SensorState.from_cursor('{"900123456_2025": "uno:A.FDB"}')
    assert state.requested == {"900123456_2025": "uno:A.FDB"} and not state.first_tick
    assert SensorState.from_cursor(state.to_cursor()) == state
    assert SensorState.from_cursor(None).first_tick


def test_failure_lines_say_the_attempt_and_what_happens_next() -> None:
    line = failure_line("tns_extract_job", "abcdef123456", "900123456_2025", 0, 2, "FileNotFoundError: x")
    assert line == (
        "extraction of 900123456_2025 failed (run abcdef12, attempt 1 of 3; retried automatically): "
        "FileNotFoundError: x"
    )
    assert "no retries left" in failure_line("tns_discover_job", "abcdef123456", None, 2, 2, None)
