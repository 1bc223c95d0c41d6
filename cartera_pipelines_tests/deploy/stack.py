"""A production-shaped Dagster deployment on one machine: code server, daemon and webserver as separate
processes on one PostgreSQL-backed instance (``deploy/dagster.yaml``), driven through the webserver's
GraphQL API (``DagsterUi``, which the container rehearsal in ``containers.py`` shares). Used by
``benchmarks/deploy_backfill.py``, which measures the queue and pools without the containers' cost.

Every process is started in its own session so that stopping the stack kills exactly the process
groups it started (the code server's run workers included), never anything else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "cartera_pipelines"
REPOSITORY = "__repository__"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


class StackError(RuntimeError):
    """A process of the stack did not come up, or a run did not finish as expected."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any cartera/Dagster variable, plus ``extra``."""
    from cartera_pipelines.settings import VARIABLES

    names = {v.name for v in VARIABLES} | {"DAGSTER_HOME", "DAGSTER_PG_URL"}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env |= {
        "PYTHONUNBUFFERED": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        # On a shared CI machine a run process may need more than the default 60 s to load the code,
        # and the daemon's launch call waits for that; the code server's child must not give up on
        # its proxy's heartbeats meanwhile (default 30 s).
        "DAGSTER_GRPC_TIMEOUT_SECONDS": "300",
        "DAGSTER_GRPC_PROXY_HEARTBEAT_TTL_SECONDS": "300",
    }
    return env | dict(extra)


def write_instance(dagster_home: Path, overrides: Mapping[str, Any] | None = None) -> Path:
    """``deploy/dagster.yaml`` (optionally with top-level sections replaced) into ``dagster_home``, for
    processes on this machine: without its container run launcher and shared compute-log volume (runs
    are processes of the code server, as with ``dagster dev``)."""
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    config.pop("run_launcher", None)
    config.pop("compute_logs", None)
    for key, value in (overrides or {}).items():
        config[key] = value
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class DagsterUi:
    """The webserver's GraphQL API, as the UI uses it; subclasses say how the stack runs (``url``,
    ``_check_alive``, ``log_tail``)."""

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _check_alive(self) -> None:
        raise NotImplementedError

    def log_tail(self, lines: int = 40) -> str:
        raise NotImplementedError

    # -- GraphQL ---------------------------------------------------------------------------------

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise StackError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def wait_until_loaded(self, timeout: float = 120) -> None:
        """The webserver answers and has loaded the code location from the code server."""
        deadline = time.monotonic() + timeout
        last = "webserver not answering"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                data = self.graphql(
                    """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
                         locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
                )
                entries = data["workspaceOrError"].get("locationEntries", [])
                entry = next((e for e in entries if e["name"] == LOCATION), None)
                if entry and entry["loadStatus"] == "LOADED":
                    error = entry["locationOrLoadError"]
                    if error and error["__typename"] == "PythonError":
                        last = error["message"]  # the code server is still starting: reload until it answers
                        self.graphql(
                            "mutation($n: String!) { reloadRepositoryLocation(repositoryLocationName: $n) { __typename } }",
                            {"n": LOCATION},
                        )
                    elif error:
                        return
                last = f"location entry {entry}"
            except (httpx.HTTPError, StackError) as exc:
                last = str(exc)
            time.sleep(1)
        raise StackError(f"the code location did not load in {timeout}s: {last}\n{self.log_tail()}")

    def wait_for_daemon(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            data = self.graphql(
                "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
            )
            statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
            needed = {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING"}
            healthy = {s["daemonType"] for s in statuses if s["healthy"]}
            if needed <= healthy:
                return
            time.sleep(1)
        raise StackError(f"the daemon did not become healthy in {timeout}s\n{self.log_tail()}")

    # -- automation ------------------------------------------------------------------------------

    def _selector(self, name_key: str, name: str) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, name_key: name}

    def stop_all_automation(self) -> list[str]:
        """Stop every running sensor and schedule (default-running ones included), so the rehearsal
        only runs what it starts itself. Returns the names stopped."""
        data = self.graphql(
            """query($s: RepositorySelector!) { repositoryOrError(repositorySelector: $s) { ... on Repository {
                 sensors { name sensorState { id status } }
                 schedules { name scheduleState { id status } } } } }""",
            {"s": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}},
        )
        repo = data["repositoryOrError"]
        stopped = []
        for sensor in repo["sensors"]:
            if sensor["sensorState"]["status"] == "RUNNING":
                self.graphql(
                    "mutation($id: String) { stopSensor(id: $id) { __typename } }",
                    {"id": sensor["sensorState"]["id"]},
                )
                stopped.append(sensor["name"])
        for schedule in repo["schedules"]:
            if schedule["scheduleState"]["status"] == "RUNNING":
                self.graphql(
                    "mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }",
                    {"id": schedule["scheduleState"]["id"]},
                )
                stopped.append(schedule["name"])
        return stopped

    def start_sensor(self, name: str) -> None:
        data = self.graphql(
            """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename
                 ... on PythonError { message } ... on SensorNotFoundError { message } } }""",
            {"s": self._selector("sensorName", name)},
        )
        if data["startSensor"]["__typename"] != "Sensor":
            raise StackError(f"could not start sensor {name}: {data['startSensor']}")

    # -- runs ------------------------------------------------------------------------------------

    def launch_run(
        self,
        job: str,
        *,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping[str, Any] | None = None,
        partition: str | None = None,
        assets: Sequence[Sequence[str]] | None = None,
    ) -> str:
        """Launch ``job`` (only ``assets`` of it when given) as the UI's Launchpad does; the run id."""
        all_tags = dict(tags or {})
        if partition is not None:
            all_tags["dagster/partition"] = partition
        selector: dict[str, Any] = self._selector("jobName", job)
        if assets is not None:
            selector["assetSelection"] = [{"path": list(key)} for key in assets]
        data = self.graphql(
            """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
                 ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
                 ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }""",
            {
                "p": {
                    "selector": selector,
                    "runConfigData": dict(run_config or {}),
                    "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]},
                }
            },
        )
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise StackError(f"launching {job} failed: {result}")
        return result["run"]["runId"]

    def job_of(self, asset_key: Sequence[str]) -> str:
        """The job (not the implicit asset job) that materializes ``asset_key``: the rehearsal names
        assets, which DESIGN fixes, rather than jobs, which families may rename."""
        data = self.graphql(
            """query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { __typename
                 ... on AssetNode { jobNames } } }""",
            {"k": {"path": list(asset_key)}},
        )
        names = [n for n in data["assetNodeOrError"].get("jobNames", []) if not n.startswith("__")]
        if not names:
            raise StackError(f"no job materializes {'/'.join(asset_key)}: {data}")
        return names[0]

    def sensor_targeting(self, job: str) -> str:
        """The sensor that requests runs of ``job``."""
        data = self.graphql(
            """query($s: RepositorySelector!) { repositoryOrError(repositorySelector: $s) { ... on Repository {
                 sensors { name targets { pipelineName } } } } }""",
            {"s": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}},
        )
        sensors = data["repositoryOrError"]["sensors"]
        names = [s["name"] for s in sensors if any(t["pipelineName"] == job for t in s["targets"] or [])]
        if not names:
            raise StackError(f"no sensor targets {job}")
        return names[0]

    def launch_asset_backfill(
        self, asset_key: Sequence[str], partitions: Sequence[str], run_config: Mapping[str, Any] | None = None
    ) -> str:
        data = self.graphql(
            """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename
                 ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
                 ... on PartitionSetNotFoundError { message } ... on InvalidSubsetError { message } } }""",
            {
                "p": {
                    "assetSelection": [{"path": list(asset_key)}],
                    "partitionNames": list(partitions),
                    "runConfigData": dict(run_config or {}),
                    "fromFailure": False,
                }
            },
        )
        result = data["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise StackError(f"launching the backfill failed: {result}")
        return result["backfillId"]

    def backfill_status(self, backfill_id: str) -> str:
        data = self.graphql(
            "query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }",
            {"id": backfill_id},
        )
        return data["partitionBackfillOrError"]["status"]

    def run(self, run_id: str) -> dict[str, Any]:
        data = self.graphql(
            """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { runId jobName status startTime
                 endTime tags { key value } } } }""",
            {"id": run_id},
        )
        return data["runOrError"]

    def runs(self, tags: Mapping[str, str] | None = None, limit: int = 200) -> list[dict[str, Any]]:
        data = self.graphql(
            """query($f: RunsFilter, $n: Int) { runsOrError(filter: $f, limit: $n) { ... on Runs { results {
                 runId jobName status startTime endTime tags { key value } } } } }""",
            {"f": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}, "n": limit},
        )
        return data["runsOrError"]["results"]

    def wait_for_runs(self, run_ids: Sequence[str], timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            runs = [self.run(run_id) for run_id in run_ids]
            if all(r["status"] in TERMINAL for r in runs):
                return runs
            if time.monotonic() > deadline:
                states = {r["runId"][:8]: r["status"] for r in runs}
                raise StackError(f"runs not finished after {timeout}s: {states}\n{self.log_tail()}")
            self._check_alive()
            time.sleep(1)


@dataclass
class Stack(DagsterUi):
    """The three processes. ``env`` must hold DAGSTER_HOME, DAGSTER_PG_URL and the CARTERA_* variables."""

    workdir: Path
    env: dict[str, str]
    code_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def workspace(self) -> Path:
        return self.workdir / "workspace.yaml"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    # -- processes -------------------------------------------------------------------------------

    def _spawn(self, name: str, command: Sequence[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(
            list(command),
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_code_server(self) -> None:
        self.workspace.write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {
                            "grpc_server": {
                                "host": "127.0.0.1",
                                "port": self.code_port,
                                "location_name": LOCATION,
                            }
                        }
                    ]
                }
            )
        )
        self._spawn(
            "code_server",
            [
                str(BIN / "dagster"),
                "code-server",
                "start",
                "-m",
                "cartera_pipelines.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.code_port),
                "--location-name",
                LOCATION,
            ],
        )

    def start_webserver(self) -> None:
        self._spawn(
            "webserver",
            [
                str(BIN / "dagster-webserver"),
                "-w",
                str(self.workspace),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.web_port),
            ],
        )

    def start_daemon(self) -> None:
        self._spawn("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)])

    def stop(self) -> None:
        """Terminate every process group this stack started (then kill what is left)."""
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            try:  # the group may still hold run workers even when its leader exited
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for name in self.processes:
            path = self.workdir / f"{name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited with {proc.returncode}\n{self.log_tail()}")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
