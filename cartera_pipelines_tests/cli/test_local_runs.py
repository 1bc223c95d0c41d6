"""Runs of the local UI whose worker died are failed and release their pool slots; runs in progress are
stopped before the UI stops (``cartera demo``)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import EngineEventData

from cartera_pipelines.cli import local_runs

POOL = "warehouse_db"


@pytest.fixture
def instance(tmp_path: Path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots(POOL, 2)
        yield instance


def _started_run(instance: dg.DagsterInstance, pid: int | None) -> dg.DagsterRun:
    run = instance.add_run(
        dg.DagsterRun(job_name="demo_job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED)
    )
    if pid is not None:
        instance.report_engine_event(
            f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
        )
    instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "step")
    return run


def _claimed(instance: dg.DagsterInstance) -> int:
    return len(instance.event_log_storage.get_concurrency_info(POOL).claimed_slots)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_run_whose_worker_died_is_failed_and_frees_its_slot(instance: dg.DagsterInstance) -> None:
    dead = _started_run(instance, _dead_pid())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = _started_run(instance, sleeper.pid)
        assert _claimed(instance) == 2
        reaped = local_runs.reap_orphans(instance, lambda _line: None)
        assert reaped == [dead.run_id]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        assert _claimed(instance) == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stopping_terminates_workers_then_reaps(instance: dg.DagsterInstance) -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run = _started_run(instance, worker.pid)
    lines: list[str] = []
    local_runs.stop_runs(instance, lines.append, grace=10)
    assert worker.wait(timeout=10) != 0
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _claimed(instance) == 0
    assert lines[0] == "stopping 1 run(s) in progress …"


def test_the_demo_also_shows_the_day_the_sandbox_contifico_history_ends() -> None:
    """Today's inventory analytics over the sandbox (history ending on its anchor day) would show empty
    sales windows: the demo materializes that day's snapshot too, and no extra day for anything else."""
    from cartera_pipelines.cli.demo import sandbox_days
    from cartera_pipelines.defs.collections.partitions import collections_days
    from cartera_pipelines.defs.contifico.analytics.partitions import ecuador_days
    from cartera_pipelines.sandbox.contifico import ANCHOR

    assert sandbox_days(ecuador_days) == [ANCHOR.isoformat()] == ["2025-12-31"]
    assert sandbox_days(collections_days) == []
