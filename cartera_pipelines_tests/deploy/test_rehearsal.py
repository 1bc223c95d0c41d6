"""The production rehearsal: webserver, daemon and code location as separate processes on one
PostgreSQL-backed instance configured by ``deploy/dagster.yaml``.

It checks what only a real deployment shows: the daemon evaluates a sensor and its run completes; runs of
two partitioned families execute side by side; and the run queue's ``singleton`` limit keeps two
collections assignments from ever overlapping, although both were submitted at once.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import pytest

from cartera_pipelines_tests.deploy.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

# Runs we launch execute their steps in the run worker itself: the rehearsal is about processes, queue and
# pools, and a step subprocess per asset would only add interpreter start-ups on a 2-core CI machine.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
WAIT = 420.0  # generous: CI machines are shared; a healthy stack finishes each phase in well under a minute
# Comercializadora Ñandú in the sandbox: three fiscal years, enough history for the models to beat the
# seasonal-naive baseline (with two years the blocking check rightly stops the forecasts)
FORECAST_NIT = "860512330"
FORECAST_YEARS = (2023, 2024, 2025)


def _tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def _wait_for_sensor_run(stack: Stack, sensor: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = stack.runs(tags={"dagster/sensor_name": sensor})
        if runs:
            return stack.wait_for_runs([runs[-1]["runId"]], timeout=max(5.0, deadline - time.monotonic()))[0]
        time.sleep(1)
    raise AssertionError(f"the daemon launched no run for {sensor} in {timeout}s\n{stack.log_tail()}")


def _records(dagster_home: Path, run_ids: list[str]) -> list[dg.RunRecord]:
    """Run records straight from the instance's PostgreSQL run storage (start/end as the run workers wrote them)."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        records = instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
    finally:
        instance.dispose()
    by_id = {r.dagster_run.run_id: r for r in records}
    return [by_id[run_id] for run_id in run_ids]


def _launch_times(dagster_home: Path, run_ids: list[str]) -> list[float]:
    """When the run coordinator handed each run to the launcher (its RUN_STARTING event)."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        return [
            instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_STARTING)[0].timestamp
            for run_id in run_ids
        ]
    finally:
        instance.dispose()


def test_rehearsal(deployment: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = deployment
    started = time.monotonic()

    # (a) the daemon evaluates a sensor we switch on through the UI's API, and its run completes
    stack.start_sensor("approved_loans_sensor")
    # (c) two assignments submitted together; the queue must serialise them (singleton tag)
    assignments = [stack.launch_run("collections_assign_job", run_config=IN_PROCESS) for _ in range(2)]
    # (b) the partitions are discovered first (tns_companies registers them)
    discover = stack.launch_run("tns_discover_job", run_config=IN_PROCESS)

    assert stack.wait_for_runs([discover], timeout=WAIT)[0]["status"] == "SUCCESS", stack.log_tail()
    # (b) a NIT's company-years are extracted (tns, one run per company-year partition, side by side)
    extracted = [
        stack.launch_run("tns_extract_job", partition=f"{FORECAST_NIT}_{year}", run_config=IN_PROCESS)
        for year in FORECAST_YEARS
    ]

    # (c) both assignments succeed, and the second started only after the first had ended
    done = stack.wait_for_runs(assignments, timeout=WAIT)
    assert [r["status"] for r in done] == ["SUCCESS", "SUCCESS"], stack.log_tail()
    assert all(_tags(r).get("singleton") == "collections_assignment" for r in done)
    monkeypatch.setenv("DAGSTER_PG_URL", stack.env["DAGSTER_PG_URL"])
    first, second = sorted(
        _records(tmp_path / "dagster_home", assignments), key=lambda r: r.start_time or float("inf")
    )
    assert first.start_time and first.end_time and second.start_time and second.end_time
    assert second.start_time >= first.end_time, (
        f"assignments overlapped: {dt.datetime.fromtimestamp(first.start_time)}–"
        f"{dt.datetime.fromtimestamp(first.end_time)} and {dt.datetime.fromtimestamp(second.start_time)}"
    )

    # (a) the sensor's run executes with the job's default (multiprocess) executor: one process per step
    sensor_run = _wait_for_sensor_run(stack, "approved_loans_sensor", timeout=WAIT)
    assert sensor_run["status"] == "SUCCESS", stack.log_tail()
    assert sensor_run["jobName"] == "loans_amortization_job"

    # (b) then that NIT's forecasting partition and another company-year's extraction at the same time
    assert [r["status"] for r in stack.wait_for_runs(extracted, timeout=WAIT)] == ["SUCCESS"] * len(
        extracted
    ), stack.log_tail()
    partition_runs = [
        stack.launch_run("forecasting_train_job", partition=FORECAST_NIT, run_config=IN_PROCESS),
        stack.launch_run("tns_extract_job", partition="900123456_2024", run_config=IN_PROCESS),
    ]
    finished = stack.wait_for_runs(partition_runs, timeout=WAIT)
    assert [r["status"] for r in finished] == ["SUCCESS", "SUCCESS"], stack.log_tail()
    # both were admitted by the queue (launched) before either finished: they ran side by side, not one
    # after the other (their own start/end need not overlap when one of them takes only a second)
    launched = _launch_times(tmp_path / "dagster_home", partition_runs)
    ended = [r.end_time for r in _records(tmp_path / "dagster_home", partition_runs)]
    assert max(launched) < min(ended), f"partition runs were serialised: launched {launched}, ended {ended}"
    print(f"rehearsal phases took {time.monotonic() - started:.0f}s")
