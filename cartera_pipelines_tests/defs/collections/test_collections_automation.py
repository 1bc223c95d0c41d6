"""The daily schedule, and one assignment run at a time through the instance's queue (no file lock)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from cartera_pipelines.defs.collections.automation import collections_assign_job, collections_daily_schedule

ROOT = Path(__file__).resolve().parents[3]
UTC = dt.UTC


def test_schedule_runs_at_seven_in_bogota_for_that_day() -> None:
    assert collections_daily_schedule.cron_schedule == "0 7 * * *"
    assert collections_daily_schedule.execution_timezone == "America/Bogota"
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    request = collections_daily_schedule(context)
    assert request.partition_key == "2026-11-21"
    assert request.tags["singleton"] == "collections_assignment"
    assert request.run_key == "collections_assignment_2026-11-21"
    # 00:30 UTC on the 22nd is still the 21st in Bogotá (UTC-5)
    late = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 22, 0, 30, tzinfo=UTC))
    assert collections_daily_schedule(late).partition_key == "2026-11-21"


def test_the_day_is_a_partition_in_bogota_and_today_exists_at_seven() -> None:
    from cartera_pipelines.defs.collections.partitions import collections_days

    assert collections_job_partitions() is collections_days
    assert collections_days.timezone == "America/Bogota"
    # at 07:00 in Bogotá (12:00 UTC) the day's partition already exists, so the schedule can run it
    with partition_loading_context(dt.datetime(2026, 11, 21, 12, 0, tzinfo=UTC)):
        assert collections_days.get_last_partition_key() == "2026-11-21"
    # and at 23:30 in Bogotá (04:30 UTC the next day) it is still that day
    with partition_loading_context(dt.datetime(2026, 11, 22, 4, 30, tzinfo=UTC)):
        assert collections_days.get_last_partition_key() == "2026-11-21"


def collections_job_partitions():
    return _definitions().resolve_job_def(collections_assign_job.name).partitions_def


def test_job_selects_the_assignment_and_its_reports_with_the_singleton_tag() -> None:
    assert collections_assign_job.tags == {"singleton": "collections_assignment"}
    from cartera_pipelines.defs.collections.assets import (
        ASSIGNMENT_REPORT,
        CONTRACT_ADVISORS,
    )

    graph = _definitions().resolve_asset_graph()
    selected = collections_assign_job.selection.resolve(graph)
    assert selected == {CONTRACT_ADVISORS, ASSIGNMENT_REPORT}


def _definitions() -> dg.Definitions:
    from cartera_pipelines.defs.collections.assets import (
        collections_assignment,
        contract_amortization_source,
        contract_status_source,
        managements_source,
    )
    from cartera_pipelines.resources import CarteraPaths, SqlDatabase

    return dg.Definitions(
        assets=[
            collections_assignment,
            contract_amortization_source,
            contract_status_source,
            managements_source,
        ],
        jobs=[collections_assign_job],
        resources={
            "lending_db": SqlDatabase(url="sqlite://", read_only=True),
            "operations_db": SqlDatabase(url="sqlite://"),
            "paths": CarteraPaths(home="unused"),
        },
    )


def _queued_run(instance: dg.DagsterInstance, job: dg.JobDefinition, tags: dict[str, str]) -> dg.DagsterRun:
    """A run of ``job`` as the webserver or a schedule submits it: QUEUED, with the job's tags."""
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            RegisteredCodeLocationOrigin("cartera_pipelines"), "__repository__"
        ),
        job_name=job.name,
    )
    return instance.create_run_for_job(
        job, status=dg.DagsterRunStatus.QUEUED, tags={**job.tags, **tags}, remote_job_origin=origin
    )


def _statuses(instance: dg.DagsterInstance, *run_ids: str) -> list[dg.DagsterRunStatus]:
    return [instance.get_run_by_id(run_id).status for run_id in run_ids]


def test_a_second_assignment_run_waits_queued_while_the_first_is_in_progress() -> None:
    # the project's own instance limits (dagster.yaml), a queued coordinator, and a launcher that
    # starts nothing: a launched run stays in progress until the test finishes it
    concurrency = yaml.safe_load((ROOT / "dagster.yaml").read_text())["concurrency"]
    overrides = {
        "concurrency": concurrency,
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"},
        "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        job = _definitions().resolve_job_def(collections_assign_job.name)
        first = _queued_run(instance, job, {"collections/as_of": "2026-11-21"})
        second = _queued_run(instance, job, {"collections/as_of": "2026-11-22"})
        # the limit is per tag value: a run with another singleton value is not held back
        unrelated = _queued_run(instance, job, {"singleton": "something_else"})
        daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
        with create_test_daemon_workspace_context(EmptyWorkspaceTarget(), instance) as workspace:
            list(daemon.run_iteration(workspace))
            assert _statuses(instance, first.run_id, second.run_id, unrelated.run_id) == [
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.STARTING,  # other work is not held back
            ]
            list(daemon.run_iteration(workspace))  # still in progress: the second keeps waiting
            assert _statuses(instance, second.run_id) == [dg.DagsterRunStatus.QUEUED]

            instance.handle_new_event(
                dg.EventLogEntry(
                    error_info=None,
                    level="DEBUG",
                    user_message="",
                    run_id=first.run_id,
                    timestamp=dt.datetime.now(UTC).timestamp(),
                    dagster_event=DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=first.job_name),
                )
            )
            assert _statuses(instance, first.run_id) == [dg.DagsterRunStatus.SUCCESS]
            list(daemon.run_iteration(workspace))
            assert _statuses(instance, second.run_id) == [dg.DagsterRunStatus.STARTING]
