"""The single-host deployment's files agree with each other: ``deploy/compose.yaml`` (the long-running
containers), ``deploy/dagster.yaml`` (the run containers' launcher) and ``deploy/workspace.yaml``; and the
launcher forwards a variable only when it is set. ``make rehearsal`` runs them for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from cartera_pipelines.run_launcher import DockerRunLauncher
from cartera_pipelines.settings import REQUIRED_IN_PRODUCTION, VARIABLES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def launcher() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())["run_launcher"]
    assert (config["module"], config["class"]) == ("cartera_pipelines.run_launcher", "DockerRunLauncher")
    return config["config"]


def _named_mounts(volumes: list[str]) -> dict[str, str]:
    return {v.split(":")[0]: v.split(":")[1] for v in volumes if not v.startswith("/")}


def test_every_container_is_the_helm_image_on_the_host_network(compose: dict[str, Any]) -> None:
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    image = values["dagster-user-deployments"]["deployments"][0]["image"]
    for name, service in compose["services"].items():
        assert service["image"] == f"{image['repository']}:{image['tag']}", name
        assert service["network_mode"] == "host", name
    code_server = compose["services"]["code-server"]
    assert code_server["environment"]["DAGSTER_CURRENT_IMAGE"] == code_server["image"]


def test_runs_get_the_volumes_the_services_use(compose: dict[str, Any], launcher: dict[str, Any]) -> None:
    run_mounts = _named_mounts(launcher["container_kwargs"]["volumes"])
    assert run_mounts == _named_mounts(compose["services"]["code-server"]["volumes"])
    declared = {v["name"] for v in compose["volumes"].values()}
    assert set(run_mounts) == declared, "fixed volume names, so the launcher's mounts find them"
    # the webserver reads the compute logs the runs write
    assert "cartera-logs" in _named_mounts(compose["services"]["webserver"]["volumes"])
    assert launcher["container_kwargs"]["network_mode"] == "host"


def test_only_the_daemon_and_the_webserver_reach_the_docker_api(compose: dict[str, Any]) -> None:
    socket = "/var/run/docker.sock:/var/run/docker.sock"
    for name, service in compose["services"].items():
        assert (socket in service["volumes"]) == (name in {"daemon", "webserver"}), name


def test_the_workspace_points_at_the_code_server(compose: dict[str, Any]) -> None:
    workspace = yaml.safe_load((ROOT / "deploy" / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    command = compose["services"]["code-server"]["command"]
    assert str(entry["grpc_server"]["port"]) == command[command.index("-p") + 1]
    assert entry["grpc_server"]["location_name"] == command[command.index("--location-name") + 1]


def test_runs_are_in_production_mode_with_every_variable_it_needs(launcher: dict[str, Any]) -> None:
    assert "CARTERA_ENV=production" in launcher["env_vars"]
    forwarded = {v.split("=", 1)[0] for v in launcher["env_vars"]}
    assert {*REQUIRED_IN_PRODUCTION, "DAGSTER_PG_URL"} <= forwarded
    assert forwarded <= {v.name for v in VARIABLES} - {"DAGSTER_HOME"}  # no typo, no stray name


def test_the_launcher_forwards_a_variable_only_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTERA_WAREHOUSE_URL", "postgresql://w")
    monkeypatch.delenv("CARTERA_WEBHOOK_URLS", raising=False)
    launcher = DockerRunLauncher(
        env_vars=["CARTERA_WAREHOUSE_URL", "CARTERA_WEBHOOK_URLS", "CARTERA_ENV=production"],
        container_kwargs={"network_mode": "host"},
    )
    context = launcher.get_container_context(dg.DagsterRun(job_name="j", run_id="r"))
    # unset: left out, so the run's webhook resource fails at setup naming it instead of the launch failing
    assert context.env_vars == ["CARTERA_WAREHOUSE_URL", "CARTERA_ENV=production"]
    assert context.container_kwargs == {"network_mode": "host"}
