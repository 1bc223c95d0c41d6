"""A real ``dg dev`` on a freshly built sandbox, for the browser tests.

``start_ui_server`` builds the sandbox into a throwaway CARTERA_HOME, starts the Contifico simulator
and ``dg dev`` (webserver + daemon, so queued runs launched from the UI execute), each in its own
process group, and waits until the UI answers GraphQL. ``UiServer.stop`` kills both groups.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOCATION = "cartera_pipelines"
STARTUP_SECONDS = 300
"""``dg dev`` loads the code location in a subprocess; on a busy 2-core machine that takes a while."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and children inherit that: restore it so
    # dg dev can be stopped with Ctrl-C's signal and shut its webserver and daemon down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGINT the child's process group (dg dev shuts its webserver, daemon and code server down
    on Ctrl-C, and ignores SIGTERM), then SIGKILL whatever is left after a grace period."""
    if process.poll() is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # orphans of an exited leader
        except ProcessLookupError:
            pass
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@dataclass
class UiServer:
    """A running ``dg dev`` on the sandbox: its URL, homes, logs and a GraphQL client."""

    url: str
    home: Path
    dagster_home: Path
    screenshot_dirs: tuple[Path, ...]
    log_dir: Path
    contifico_url: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def to_json(self, path: Path) -> None:
        fields = ("url", "home", "dagster_home", "log_dir", "contifico_url")
        state = {name: str(getattr(self, name)) for name in fields}
        state["screenshot_dirs"] = [str(d) for d in self.screenshot_dirs]
        path.write_text(json.dumps(state, indent=2))

    @classmethod
    def from_json(cls, path: Path) -> UiServer:
        state = json.loads(path.read_text())
        return cls(
            url=state["url"],
            home=Path(state["home"]),
            dagster_home=Path(state["dagster_home"]),
            screenshot_dirs=tuple(Path(d) for d in state["screenshot_dirs"]),
            log_dir=Path(state["log_dir"]),
            contifico_url=state["contifico_url"],
        )

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise AssertionError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def run_status(self, run_id: str) -> str:
        data = self.graphql(
            "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }", {"id": run_id}
        )
        return data["runOrError"].get("status", data["runOrError"]["__typename"])

    def wait_for_run(self, run_id: str, timeout: float = 420) -> str:
        """Poll until the run ends; returns SUCCESS / FAILURE / CANCELED."""
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = self.run_status(run_id)
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(1)
        raise AssertionError(f"run {run_id} still {status} after {timeout:.0f}s; see {self.log_dir}")

    def launch(
        self,
        job: str,
        *,
        assets: list[list[str]] | None = None,
        run_config: dict[str, Any] | None = None,
        partition: str | None = None,
    ) -> str:
        """Launch a run through GraphQL (as the UI's Launch button does); returns its id."""
        selector: dict[str, Any] = {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "jobName": job,
        }
        if assets:
            selector["assetSelection"] = [{"path": path} for path in assets]
        metadata: dict[str, Any] = {}
        if partition is not None:
            metadata["executionMetadata"] = {"tags": [{"key": "dagster/partition", "value": partition}]}
        data = self.graphql(
            """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
                 ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
                 ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }""",
            {"p": {"selector": selector, "runConfigData": run_config or {}, "mode": "default", **metadata}},
        )
        answer = data["launchRun"]
        if answer["__typename"] != "LaunchRunSuccess":
            raise AssertionError(f"launching {job} {assets or ''} failed: {answer}")
        return str(answer["run"]["runId"])

    def quiet(self, settle_seconds: float = 90) -> None:
        """Stop the sensors and schedules that start running by default, and cancel the runs they already
        requested, so the tests' own runs do not wait behind a TNS backfill on a 2-core machine.

        Repeated until a pass finds nothing to stop: a sensor tick in flight when we stop it still
        creates its runs a moment later."""
        deadline = time.monotonic() + settle_seconds
        while self._quiet_pass() and time.monotonic() < deadline:
            time.sleep(5)

    def _quiet_pass(self) -> bool:
        repository = {"repositoryName": "__repository__", "repositoryLocationName": LOCATION}
        data = self.graphql(
            """query($r: RepositorySelector!) {
                 sensorsOrError(repositorySelector: $r) { ... on Sensors { results { sensorState { id status } } } }
                 schedulesOrError(repositorySelector: $r) { ... on Schedules { results { scheduleState { id status } } } }
               }""",
            {"r": repository},
        )
        stopped = 0
        for sensor in data["sensorsOrError"]["results"]:
            if sensor["sensorState"]["status"] == "RUNNING":
                self.graphql(
                    "mutation($id: String) { stopSensor(id: $id) { __typename } }",
                    {"id": sensor["sensorState"]["id"]},
                )
                stopped += 1
        for schedule in data["schedulesOrError"]["results"]:
            if schedule["scheduleState"]["status"] == "RUNNING":
                self.graphql(
                    "mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }",
                    {"id": schedule["scheduleState"]["id"]},
                )
                stopped += 1
        runs = self.graphql("{ runsOrError(limit: 500) { ... on Runs { results { runId status } } } }")
        waiting = [
            r["runId"] for r in runs["runsOrError"]["results"] if r["status"] in ("QUEUED", "NOT_STARTED")
        ]
        started = [
            r["runId"] for r in runs["runsOrError"]["results"] if r["status"] in ("STARTING", "STARTED")
        ]
        # queued runs just leave the queue; started ones get their process stopped
        for ids, policy in ((waiting, "MARK_AS_CANCELED_IMMEDIATELY"), (started, "SAFE_TERMINATE")):
            if ids:
                self.graphql(
                    f"mutation($ids: [String!]!) {{ terminateRuns(runIds: $ids, terminatePolicy: {policy}) "
                    "{ __typename } }",
                    {"ids": ids},
                )
        return bool(stopped or waiting or started)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} (tail) ---\n" + path.read_text(errors="replace")[-4000:]
            for path in sorted(self.log_dir.glob("*.log"))
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            _kill_group(process)


def start_ui_server(
    base: Path, screenshot_dirs: tuple[Path, ...], extra_env: dict[str, str] | None = None
) -> UiServer:
    """Sandbox + simulator + ``dg dev`` under ``base``; the caller must ``stop()`` it."""
    from cartera_pipelines.sandbox.build import build_sandbox
    from cartera_pipelines.sandbox.defaults import CONTIFICO_API_KEY as SANDBOX_CONTIFICO_API_KEY
    from cartera_pipelines.sandbox.targets import targets_from_settings
    from cartera_pipelines.settings import VARIABLES, load_settings

    home = base / "cartera_home"
    dagster_home = base / "dagster_home"
    log_dir = base / "logs"
    for directory in (home, dagster_home, log_dir, *screenshot_dirs):
        directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")

    sim_port, ui_port = free_port(), free_port()
    ours = {variable.name for variable in VARIABLES}
    env = {name: value for name, value in os.environ.items() if name not in ours}
    env.update(
        CARTERA_HOME=str(home),
        DAGSTER_HOME=str(dagster_home),
        CONTIFICO_API_BASE_URL=f"http://127.0.0.1:{sim_port}/sistema/api/",
        # set explicitly so the resource holds an EnvVar (as in production), not the embedded default
        CONTIFICO_API_KEY=SANDBOX_CONTIFICO_API_KEY,
        DAGSTER_DISABLE_TELEMETRY="1",
        PYTHONUNBUFFERED="1",
        **(extra_env or {}),
    )

    # build in this process with the server's environment, exactly as `cartera sandbox build` would
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        build_sandbox(targets_from_settings(load_settings()))
    finally:
        os.environ.clear()
        os.environ.update(saved)

    server = UiServer(
        url=f"http://127.0.0.1:{ui_port}",
        home=home,
        dagster_home=dagster_home,
        screenshot_dirs=screenshot_dirs,
        log_dir=log_dir,
        contifico_url=env["CONTIFICO_API_BASE_URL"],
    )
    try:
        simulator_log = open(log_dir / "contifico_simulator.log", "wb")
        server.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "cartera_pipelines.cli", "sandbox", "serve", "--port", str(sim_port)],
                cwd=ROOT,
                env=env,
                stdout=simulator_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_default_sigint,
            )
        )
        dev_log = open(log_dir / "dagster_dev.log", "wb")
        server.processes.append(
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "dg"),
                    "dev",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ui_port),
                ],
                cwd=ROOT,
                env={**env, "VIRTUAL_ENV": str(Path(sys.executable).parent.parent)},
                stdout=dev_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_default_sigint,
            )
        )
        _wait_until_up(server, sim_port)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_up(server: UiServer, sim_port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        for process in server.processes:
            if process.poll() is not None:
                raise AssertionError(f"{process.args} exited with {process.returncode}\n{server.logs()}")
        if _port_open(sim_port):
            try:
                data = server.graphql(
                    "{ version workspaceOrError { ... on Workspace { locationEntries { name "
                    "locationOrLoadError { __typename ... on PythonError { message } } } } } }",
                    timeout=10,
                )
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                data = None
            if data:
                entries = data["workspaceOrError"]["locationEntries"]
                loaded = [e for e in entries if e["locationOrLoadError"] is not None]
                if entries and len(loaded) == len(entries):
                    return
        time.sleep(1)
    raise AssertionError(f"dg dev did not answer within {STARTUP_SECONDS}s\n{server.logs()}")


if __name__ == "__main__":
    # Keep a server up while iterating on the browser tests:
    #   .venv/bin/python -m cartera_pipelines_tests.ui.server /tmp/ui &
    #   CARTERA_UI_TEST_SERVER=/tmp/ui/server.json .venv/bin/pytest cartera_pipelines_tests/ui
    directory = Path(sys.argv[1])
    running = start_ui_server(directory, (directory / "screenshots", ROOT / ".cartera" / "screenshots"))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with `&`
    try:
        running.quiet()
        running.to_json(directory / "server.json")
        print(f"dg dev on {running.url}; state in {directory / 'server.json'}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
