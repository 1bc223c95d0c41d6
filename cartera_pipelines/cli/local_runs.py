"""Runs of the local instance (``cartera demo`` / ``make ui``) that outlive their worker.

The default run launcher starts each run in a worker process on this machine. Run monitoring cannot tell
when such a worker dies (it only watches launchers that report health), so a worker killed with the UI —
Ctrl-C, a closed terminal — leaves its run ``STARTED`` forever, holding its pool slots, and new runs queue
behind it. ``cartera demo`` therefore stops the runs in progress before it stops the UI, and on every
start marks the runs whose worker is gone as failed and frees their slots.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def in_progress_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS)))


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid the run worker reported when it started ("Started process for run (pid: …)")."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = getattr(event, "event_specific_data", None) if event else None
        pid = getattr(data, "metadata", {}).get("pid") if data is not None else None
        if pid is not None:
            return int(pid.value)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def _mentioned_in_a_process(run_id: str) -> bool:
    """Whether a live process names the run on its command line (a worker that never reported its pid)."""
    for entry in Path("/proc").iterdir() if Path("/proc").exists() else ():
        if entry.name.isdigit():
            try:
                if run_id.encode() in (entry / "cmdline").read_bytes():
                    return True
            except OSError:
                continue
    return False


def worker_alive(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    pid = worker_pid(instance, run.run_id)
    if pid is not None and pid != os.getpid():
        return _alive(pid)
    return _mentioned_in_a_process(run.run_id)


def reap_orphans(instance: dg.DagsterInstance, log: Callable[[str], None]) -> list[str]:
    """Mark runs in progress whose worker is gone as failed and free their pool slots."""
    reaped = []
    for run in in_progress_runs(instance):
        if worker_alive(instance, run):
            continue
        instance.report_run_failed(
            run, "The run worker is gone (the local UI was stopped or killed while this run was in progress)."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    if reaped:
        log(
            f"marked {len(reaped)} run(s) whose worker was gone as failed and freed their slots: {', '.join(reaped)}"
        )
    return reaped


def stop_runs(instance: dg.DagsterInstance, log: Callable[[str], None], grace: float = 30.0) -> None:
    """Ask every run in progress to stop (SIGTERM to its worker: Dagster marks it failed and releases its
    slots), wait up to ``grace`` seconds, then reap whatever did not finish."""
    runs = in_progress_runs(instance)
    if not runs:
        return
    log(f"stopping {len(runs)} run(s) in progress …")
    pids = [pid for pid in (worker_pid(instance, run.run_id) for run in runs) if pid and _alive(pid)]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.5)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    reap_orphans(instance, log)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
