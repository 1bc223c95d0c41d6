"""The single-host deployment of docs/production.md on this machine's Docker: the code server, the
webserver and the daemon as containers of the project image (``make image``), every run in a container of
its own (``DockerRunLauncher`` of ``deploy/dagster.yaml``), all on the host network, the instance in
PostgreSQL. Used by ``test_rehearsal.py`` and ``benchmarks/deploy_containers.py``.

Everything the stack creates carries the label ``cartera/rehearsal=<id>`` (run containers too, through the
launcher's ``container_kwargs``), so stopping it removes exactly what it started, never anything else.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cartera_pipelines_tests.deploy.stack import LOCATION, ROOT, DagsterUi, StackError, free_port

DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
SOCKET = Path("/var/run/docker.sock")
WORKDIR = "/etc/cartera"
"""Where the stack's configuration directory (workspace, TNS servers file, pools file) is mounted."""
DATA_DIR = "/var/lib/cartera"
LOGS_DIR = "/opt/dagster/logs"
DAGSTER_HOME = "/opt/dagster/dagster_home"


def _version() -> str:
    match = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert match
    return match.group(1)


IMAGE = os.environ.get("CARTERA_IMAGE", f"ghcr.io/cartera/cartera-pipelines:{_version()}")


def docker(*args: str, env: Mapping[str, str] | None = None, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(
        [DOCKER, *args], env=dict(env) if env else None, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise StackError(f"docker {' '.join(args[:3])} … failed: {result.stderr.strip()[-800:]}")
    return result.stdout.strip()


def docker_unavailable() -> str | None:
    """Why the rehearsal cannot run here (no Docker, no image), or None."""
    if not Path(DOCKER).exists():
        return f"{DOCKER} is missing: run `bash scripts/ensure_docker.sh` (or `make image`)"
    if subprocess.run([DOCKER, "info"], capture_output=True, timeout=30).returncode != 0:
        return "dockerd does not answer: run `bash scripts/ensure_docker.sh`"
    if subprocess.run([DOCKER, "image", "inspect", IMAGE], capture_output=True, timeout=30).returncode != 0:
        return f"the image {IMAGE} is not built: run `make image`"
    return None


def compose_command(service: str, ports: Mapping[str, int]) -> list[str]:
    """The command of ``service`` in ``deploy/compose.yaml``, with its fixed ports replaced by ``ports``
    (``{"4000": 51234}``): the rehearsal runs what the compose file runs."""
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    return [str(ports.get(str(arg), arg)) for arg in compose["services"][service]["command"]]


def instance_config(label: str, workdir: Path, forwarded: Sequence[str]) -> dict[str, Any]:
    """``deploy/dagster.yaml`` with what differs on a test machine: host directories instead of named
    volumes, the rehearsal's label on every run container, ``forwarded`` variables added to the
    launcher's list (a TNS server's password variable), and monitoring every 5 s instead of every
    minute (so a killed run is noticed within the test's patience)."""
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    launcher = config["run_launcher"]["config"]
    launcher["env_vars"] = [*launcher["env_vars"], *forwarded]
    kwargs = launcher["container_kwargs"]
    kwargs["volumes"] = [
        f"{workdir / 'data'}:{DATA_DIR}",
        f"{workdir / 'logs'}:{LOGS_DIR}",
        f"{workdir / 'etc'}:{WORKDIR}:ro",
    ]
    kwargs["labels"] = {**kwargs.get("labels", {}), "cartera/rehearsal": label}
    config["run_monitoring"] |= {"poll_interval_seconds": 5, "start_timeout_seconds": 600}
    return config


@dataclass
class ContainerStack(DagsterUi):
    """Code server, webserver and daemon as containers. ``env`` holds every variable the containers get
    (production mode, the stores, the APIs, DAGSTER_PG_URL); values never appear on a command line."""

    workdir: Path
    env: dict[str, str]
    image: str = IMAGE
    forwarded: tuple[str, ...] = ()
    label: str = field(default_factory=lambda: f"r{uuid.uuid4().hex[:10]}")
    code_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    containers: dict[str, str] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    """monotonic time each container was started (``docker run`` returned)."""

    def __post_init__(self) -> None:
        for name in ("etc", "data", "logs", "dagster_home"):
            path = self.workdir / name
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)  # the image runs as uid 10001
        config = instance_config(self.label, self.workdir, self.forwarded)
        (self.workdir / "dagster_home" / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (self.workdir / "etc" / "workspace.yaml").write_text(
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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _mounts(self) -> list[str]:
        return [
            f"{self.workdir / 'dagster_home' / 'dagster.yaml'}:{DAGSTER_HOME}/dagster.yaml:ro",
            f"{self.workdir / 'data'}:{DATA_DIR}",
            f"{self.workdir / 'logs'}:{LOGS_DIR}",
            f"{self.workdir / 'etc'}:{WORKDIR}:ro",
        ]

    def docker_run(
        self, name: str, command: Sequence[str], *, detach: bool = True, docker_api: bool = False
    ) -> str:
        """``docker run`` of the image with the stack's network, label, mounts and environment (passed by
        name, so values stay out of the process list). Returns the container id, or the output of a
        foreground command."""
        args = ["run", "--network", "host", "--label", f"cartera/rehearsal={self.label}"]
        args += ["--name", f"cartera-{self.label}-{name}"]
        args += ["-d"] if detach else ["--rm"]
        for mount in self._mounts():
            args += ["-v", mount]
        if docker_api:  # the daemon launches and monitors run containers; the webserver terminates them
            args += ["-v", f"{SOCKET}:{SOCKET}", "--group-add", str(SOCKET.stat().st_gid)]
        for key in sorted(self.env):
            args += ["-e", key]
        output = docker(*args, self.image, *command, env=os.environ | self.env, timeout=600)
        if detach:
            self.containers[name] = output
            self.started[name] = time.monotonic()
        return output

    def _ports(self) -> dict[str, int]:
        return {"4000": self.code_port, "3000": self.web_port}

    def start_code_server(self) -> None:
        self.env["DAGSTER_CURRENT_IMAGE"] = self.image  # the image every run container uses
        self.docker_run("code_server", compose_command("code-server", self._ports()))

    def start_webserver(self) -> None:
        self.docker_run("webserver", compose_command("webserver", self._ports()), docker_api=True)

    def start_daemon(self) -> None:
        self.docker_run("daemon", compose_command("daemon", self._ports()), docker_api=True)

    def cartera(self, *args: str) -> str:
        """The ``cartera`` command in a throwaway container of the image (as an operator would run it)."""
        return self.docker_run(f"cli-{uuid.uuid4().hex[:6]}", ["cartera", *args], detach=False)

    def run_containers(self) -> list[dict[str, str]]:
        """The run containers the launcher started: id, run id, state."""
        out = docker(
            "ps",
            "-a",
            "--filter",
            f"label=cartera/rehearsal={self.label}",
            "--filter",
            "label=dagster/run_id",
            "--format",
            '{{.ID}} {{.Label "dagster/run_id"}} {{.State}}',
        )
        return [dict(zip(("id", "run_id", "state"), line.split(), strict=True)) for line in out.splitlines()]

    def stop(self) -> None:
        """Remove every container carrying this stack's label (run containers included)."""
        ids = docker("ps", "-aq", "--filter", f"label=cartera/rehearsal={self.label}", check=False).split()
        if ids:
            docker("rm", "-f", *ids, check=False, timeout=180)

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for name, container in self.containers.items():
            result = subprocess.run(
                [DOCKER, "logs", "--tail", str(lines), container], capture_output=True, text=True, timeout=60
            )
            parts.append(f"--- {name} ---\n{result.stdout}{result.stderr}")
        return "\n".join(parts)

    def _check_alive(self) -> None:
        for name, container in self.containers.items():
            state = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", container, check=False)
            if not state.startswith("running"):
                raise StackError(f"container {name} is {state or 'gone'}\n{self.log_tail()}")

    def kill_run_container(self, run_id: str) -> str:
        """``docker kill`` the container of ``run_id`` (as an OOM killer or a host crash would)."""
        for container in self.run_containers():
            if container["run_id"] == run_id:
                docker("kill", container["id"])
                return container["id"]
        raise StackError(f"no container for run {run_id}")
