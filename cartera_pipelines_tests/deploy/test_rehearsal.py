"""The deployment rehearsal on containers (``make rehearsal``): the image of ``make image`` runs the code
server, the webserver and the daemon in production mode against this machine's PostgreSQL, MariaDB and
Firebird; every run is a container of its own (DockerRunLauncher, host network). It shows:

1. the code location loads in the webserver;
2. a run whose container is killed is marked failed by run monitoring, and its retry succeeds;
3. two collections runs submitted together never overlap (the queue's ``singleton`` limit);
4. a sensor-requested run completes;
5. one asset of every family materializes (contifico, tns, forecasting, loans, collections, factoring);

and that the image runs as its unprivileged user and holds no compiler.

Runs are launched by the asset they materialize (DESIGN's keys), their jobs and sensors looked up in the
webserver, so a family renaming a job does not break the rehearsal. With CARTERA_REHEARSAL_FIGURES set to
a path, the figures (time from ``docker run`` to a loaded location, run launch latency) are written there
as JSON (``benchmarks/deploy_containers.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from cartera_pipelines.lib.dates import BOGOTA, today_in
from cartera_pipelines_tests.deploy.conftest import Rehearsal
from cartera_pipelines_tests.deploy.containers import ContainerStack, docker

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.mysql, pytest.mark.firebird]

# Most runs execute their steps in the run container itself; the sensor's run keeps the job's default
# executor (a process per step), as production runs do.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
WAIT = 900.0  # generous: on a shared 2-core machine each run container spends ~20-60 s loading the code
# Comercializadora Ñandú in the sandbox, on the first TNS server: one fiscal year is enough to show the
# extraction and the NIT's monthly demand (each run costs a container start and a code load)
FORECAST_NIT = "860512330"
FORECAST_YEARS = (2025,)
SLOW_CONTIFICO_SECONDS = 45.0  # longer than the client's timeout: the run keeps retrying until killed

CONTIFICO = ("warehouse", "contifico_categories")
TNS = ("warehouse", "tns_companies")
MOVEMENTS = ("warehouse", "tns_inventory_movements")
FORECASTING = ("warehouse", "demand_monthly")
LOANS = ("operations", "cuotas")
COLLECTIONS = ("operations", "contract_advisors")
FACTORING = ("operations", "outbox_deliveries")


@dataclass
class Launched:
    doomed: str
    """The contifico run whose container the rehearsal kills."""
    assignments: list[str]
    discover: str
    outbox: str
    sensor: str


def _instance(world: Rehearsal, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """The rehearsal's instance, read from this process (same dagster.yaml, same PostgreSQL)."""
    monkeypatch.setenv("DAGSTER_PG_URL", world.stack.env["DAGSTER_PG_URL"])
    return dg.DagsterInstance.from_config(str(world.stack.workdir / "dagster_home"))


def _wait_status(stack: ContainerStack, run_id: str, statuses: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = stack.run(run_id)
        if run["status"] in statuses:
            return run
        stack._check_alive()
        time.sleep(1)
    raise AssertionError(f"run {run_id} never reached {statuses}\n{stack.log_tail()}")


def _wait_for_tagged_run(stack: ContainerStack, tags: dict[str, str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = stack.runs(tags=tags)
        if runs:
            return stack.wait_for_runs([runs[-1]["runId"]], timeout=max(5.0, deadline - time.monotonic()))[0]
        time.sleep(2)
    raise AssertionError(f"no run tagged {tags} in {timeout}s\n{stack.log_tail()}")


@pytest.fixture(scope="module")
def launched(rehearsal: Rehearsal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    """Every run the checks need, submitted at once (so they share the machine's time)."""
    from cartera_pipelines.sandbox.contifico_simulator import FaultConfig

    stack = rehearsal.stack
    rehearsal.simulator.sim.configure(FaultConfig(latency_seconds=SLOW_CONTIFICO_SECONDS))
    doomed = stack.launch_run(stack.job_of(CONTIFICO), assets=[CONTIFICO], run_config=IN_PROCESS)
    collections_job = stack.job_of(COLLECTIONS)
    # the same day twice (the assignment is partitioned by Bogotá's day): the queue must serialise them
    today = today_in(BOGOTA).isoformat()
    assignments = [
        stack.launch_run(collections_job, run_config=IN_PROCESS, partition=today) for _ in range(2)
    ]
    discover = stack.launch_run(stack.job_of(TNS), run_config=IN_PROCESS)
    outbox = stack.launch_run(stack.job_of(FACTORING), run_config=IN_PROCESS)
    sensor = stack.sensor_targeting(stack.job_of(LOANS))
    stack.start_sensor(sensor)
    yield Launched(doomed, assignments, discover, outbox, sensor)
    _write_figures(rehearsal)


def test_the_code_location_loads_in_the_webserver(rehearsal: Rehearsal) -> None:
    data = rehearsal.stack.graphql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
        "locationOrLoadError { __typename } } } } }"
    )
    (entry,) = data["workspaceOrError"]["locationEntries"]
    assert (
        entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    )
    print(f"docker run → loaded code location: {rehearsal.figures['docker_run_to_loaded_seconds']} s")


def test_the_image_runs_as_non_root_without_compilers(rehearsal: Rehearsal) -> None:
    probe = (
        "id -u; ls /usr/bin /usr/local/bin | grep -cxE '(cc|gcc|g\\+\\+|c\\+\\+|clang|make)[-0-9.]*' || true"
    )
    output = docker("run", "--rm", "--network", "host", rehearsal.stack.image, "sh", "-c", probe)
    uid, compilers = output.split()
    assert int(uid) == 10001 and int(compilers) == 0, output


def test_a_killed_run_is_failed_by_monitoring_and_its_retry_succeeds(
    rehearsal: Rehearsal, launched: Launched, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cartera_pipelines.sandbox.contifico_simulator import FaultConfig

    stack = rehearsal.stack
    _wait_status(stack, launched.doomed, {"STARTED"}, timeout=WAIT)
    time.sleep(5)  # the step is inside a (slow) Contifico request now
    stack.kill_run_container(launched.doomed)
    rehearsal.simulator.sim.configure(FaultConfig())  # the world recovers: the retry runs at full speed
    killed = _wait_status(stack, launched.doomed, {"FAILURE", "SUCCESS", "CANCELED"}, timeout=300)
    assert killed["status"] == "FAILURE"
    instance = _instance(rehearsal, monkeypatch)
    try:
        (failure,) = instance.all_logs(launched.doomed, of_type=dg.DagsterEventType.RUN_FAILURE)
    finally:
        instance.dispose()
    assert "Container status is exited" in (failure.message or ""), failure.message
    retry = _wait_for_tagged_run(stack, {"dagster/parent_run_id": launched.doomed}, timeout=WAIT)
    assert retry["status"] == "SUCCESS", stack.log_tail()


def test_two_collections_runs_never_overlap(
    rehearsal: Rehearsal, launched: Launched, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = rehearsal.stack
    done = stack.wait_for_runs(launched.assignments, timeout=WAIT)
    assert [r["status"] for r in done] == ["SUCCESS", "SUCCESS"], stack.log_tail()
    instance = _instance(rehearsal, monkeypatch)
    try:
        records = instance.get_run_records(dg.RunsFilter(run_ids=launched.assignments))
    finally:
        instance.dispose()
    first, second = sorted(records, key=lambda r: r.start_time or float("inf"))
    assert first.start_time and first.end_time and second.start_time and second.end_time
    assert second.start_time >= first.end_time, (
        f"assignments overlapped: {dt.datetime.fromtimestamp(first.start_time)}–"
        f"{dt.datetime.fromtimestamp(first.end_time)} and {dt.datetime.fromtimestamp(second.start_time)}"
    )
    # each in a container of its own
    containers = {c["run_id"]: c["id"] for c in stack.run_containers()}
    assert len({containers[run_id] for run_id in launched.assignments}) == 2


def test_a_sensor_requested_run_completes(rehearsal: Rehearsal, launched: Launched) -> None:
    run = _wait_for_tagged_run(rehearsal.stack, {"dagster/sensor_name": launched.sensor}, timeout=WAIT)
    assert run["status"] == "SUCCESS", rehearsal.stack.log_tail()


def test_one_asset_of_every_family_materializes(
    rehearsal: Rehearsal, launched: Launched, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = rehearsal.stack
    assert stack.wait_for_runs([launched.discover], timeout=WAIT)[0]["status"] == "SUCCESS", stack.log_tail()
    extract_job = stack.job_of(MOVEMENTS)
    extracted = [
        stack.launch_run(extract_job, partition=f"{FORECAST_NIT}_{year}", run_config=IN_PROCESS)
        for year in FORECAST_YEARS
    ]
    outbox = stack.wait_for_runs([launched.outbox], timeout=WAIT)[0]
    assert outbox["status"] == "SUCCESS", stack.log_tail()
    assert rehearsal.receiver.successes > 0 and rehearsal.receiver.bad_signatures == 0
    done = stack.wait_for_runs(extracted, timeout=WAIT)
    assert [r["status"] for r in done] == ["SUCCESS"] * len(extracted), stack.log_tail()
    forecast = stack.launch_run(
        stack.job_of(FORECASTING), assets=[FORECASTING], partition=FORECAST_NIT, run_config=IN_PROCESS
    )
    assert stack.wait_for_runs([forecast], timeout=WAIT)[0]["status"] == "SUCCESS", stack.log_tail()

    instance = _instance(rehearsal, monkeypatch)
    try:
        for key in (CONTIFICO, TNS, MOVEMENTS, FORECASTING, LOANS, COLLECTIONS, FACTORING):
            event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
            assert event is not None, f"{'/'.join(key)} never materialized\n{stack.log_tail()}"
    finally:
        instance.dispose()


def _write_figures(world: Rehearsal) -> None:
    """Run launch latency of every run of the rehearsal: queue → launcher (RUN_STARTING) → the run's
    container running our code (RUN_START)."""
    stack = world.stack
    os.environ["DAGSTER_PG_URL"] = stack.env["DAGSTER_PG_URL"]
    instance = dg.DagsterInstance.from_config(str(stack.workdir / "dagster_home"))
    latencies = []
    try:
        for record in instance.get_run_records():
            run_id = record.dagster_run.run_id

            def at(kind: dg.DagsterEventType, run_id: str = run_id) -> float | None:
                events = instance.all_logs(run_id, of_type=kind)
                return events[0].timestamp if events else None

            starting, start = at(dg.DagsterEventType.RUN_STARTING), at(dg.DagsterEventType.RUN_START)
            if starting and start:
                latencies.append(start - starting)
    finally:
        instance.dispose()
    if latencies:
        world.figures |= {
            "runs": len(latencies),
            "launch_latency_median_seconds": round(statistics.median(latencies), 1),
            "launch_latency_max_seconds": round(max(latencies), 1),
        }
    print(f"rehearsal figures: {world.figures}")
    target = os.environ.get("CARTERA_REHEARSAL_FIGURES")
    if target:
        Path(target).write_text(json.dumps(world.figures, indent=2))
