"""The deployment files agree with each other and with the chart they target.

The Dockerfile is parsed and its essentials checked here (``make rehearsal`` builds and runs it), and the
Helm values are validated against the keys that Dagster's chart (dagster/dagster, the version pinned in
uv.lock) documents in its values schema: an unknown key would be silently ignored by `helm template`.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "deploy" / "helm" / "values.yaml"


# ------------------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in logical]


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    return instructions[starts[-1] :]


@pytest.fixture(scope="module")
def docker() -> list[tuple[str, str]]:
    return dockerfile_instructions((ROOT / "deploy" / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def deployment(values: dict[str, Any]) -> dict[str, Any]:
    deployments = values["dagster-user-deployments"]["deployments"]
    assert len(deployments) == 1
    return deployments[0]


def _args(docker: list[tuple[str, str]]) -> dict[str, str]:
    return {a.split("=", 1)[0]: a.split("=", 1)[1] for op, a in docker if op == "ARG" and "=" in a}


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _locked_version(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


def test_dockerfile_starts_from_the_base_built_from_debian_packages(docker: list[tuple[str, str]]) -> None:
    """No public registry is reachable here: every stage starts from the image scripts/build_base_image.sh
    debootstraps (bookworm + python3.11 + libfbclient2), and nothing is copied from another image."""
    base = _args(docker)["BASE_IMAGE"]
    assert base == "cartera-base:bookworm"
    froms = [arg.split() for op, arg in docker if op == "FROM"]
    stages = {f[2] for f in froms if len(f) == 3 and f[1].upper() == "AS"}
    assert all(f[0] == "${BASE_IMAGE}" or f[0] in stages for f in froms), froms
    copied_from = {
        m.group(1) for op, arg in docker if op == "COPY" and (m := re.search(r"--from=(\S+)", arg))
    }
    assert copied_from <= stages, f"COPY --from an image, not a stage: {copied_from - stages}"
    assert "# syntax=" not in (ROOT / "deploy" / "Dockerfile").read_text()  # a frontend image is a pull
    recipe = (ROOT / "scripts" / "build_base_image.sh").read_text()
    packages = re.search(r"^PACKAGES=(\S+)", recipe, re.MULTILINE)
    assert packages and {"python3.11", "libfbclient2", "tzdata"} <= set(packages.group(1).split(","))
    assert "debootstrap --variant=minbase" in recipe and '"$DOCKER" import' in recipe


def test_dockerfile_runs_as_non_root(docker: list[tuple[str, str]]) -> None:
    users = [arg for op, arg in final_stage(docker) if op == "USER"]
    assert users, "the runtime stage has no USER: the code server would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    uid = re.search(r"useradd .*--uid (\d+)", " ".join(a for op, a in final_stage(docker) if op == "RUN"))
    assert uid and int(uid.group(1)) >= 1000


def test_dockerfile_installs_exactly_the_lock_without_compilers(docker: list[tuple[str, str]]) -> None:
    copies = " ".join(arg for op, arg in docker if op == "COPY")
    assert "uv.lock" in copies
    syncs = [arg for op, arg in docker if op == "RUN" and "uv sync" in arg]
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert not any("--extra" in s or "--all-extras" in s for s in syncs), (
        "test/bench extras do not belong in the image"
    )
    runs = " ".join(arg for op, arg in docker if op == "RUN")
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang|python3[.\d]*-dev)\b", runs), "no compiler"
    # the runtime stage installs nothing: it only copies the built /app
    assert not any(op == "RUN" and "apt-get install" in arg for op, arg in final_stage(docker))
    # the same uv as the Makefile
    uv = _args(docker)["UV_VERSION"]
    makefile = re.search(r"^UV_VERSION := ([\d.]+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert makefile and uv == makefile.group(1)
    assert re.search(r"pip install [^&]*uv==\$\{UV_VERSION\}", runs)


def test_dockerfile_defaults_to_production_mode(docker: list[tuple[str, str]]) -> None:
    env = " ".join(arg for op, arg in final_stage(docker) if op == "ENV")
    assert "CARTERA_ENV=production" in env


def test_dockerfile_keeps_the_project_root_next_to_the_package(docker: list[tuple[str, str]]) -> None:
    """``dg.load_from_defs_folder`` locates the project by its pyproject.toml, a parent of the package: a
    copy of the package in site-packages (``--no-editable``) would not load in the container."""
    syncs = [arg for op, arg in docker if op == "RUN" and "uv sync" in arg]
    assert not any("--no-editable" in s for s in syncs)
    runtime_copies = [arg.split()[-2:] for op, arg in final_stage(docker) if op == "COPY"]
    assert ["pyproject.toml", "/app/"] in runtime_copies
    assert ["cartera_pipelines", "/app/cartera_pipelines"] in runtime_copies
    assert ["/app/.venv", "/app/.venv"] in runtime_copies  # the dependency layer, unchanged by our code


def test_dockerfile_starts_the_code_server_on_the_helm_port(
    docker: list[tuple[str, str]], deployment: dict[str, Any]
) -> None:
    cmd = json.loads(next(arg for op, arg in reversed(docker) if op == "CMD"))
    assert cmd[:3] == ["dagster", "code-server", "start"]
    options = dict(zip(cmd[3::2], cmd[4::2], strict=True))
    assert options["-m"] == "cartera_pipelines.definitions"
    assert options["-h"] == "0.0.0.0"
    assert int(options["-p"]) == deployment["port"]
    assert deployment["codeServerArgs"] == ["-m", options["-m"]]
    exposed = [arg for op, arg in final_stage(docker) if op == "EXPOSE"]
    assert exposed == [str(deployment["port"])]


def test_image_name_and_tag_agree_everywhere(
    docker: list[tuple[str, str]], deployment: dict[str, Any]
) -> None:
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    assert deployment["image"]["tag"] == _args(docker)["IMAGE_VERSION"] == _project_version()
    assert _args(docker)["IMAGE_VERSION"] == _project_version()
    script = (ROOT / "scripts" / "build_image.sh").read_text()
    assert "IMAGE_REPOSITORY:-" + deployment["image"]["repository"] in script
    for doc in ("deploy/Dockerfile", "docs/production.md"):
        assert f"-t {image} ." in (ROOT / doc).read_text(), f"{doc} does not show the image name {image}"
    assert "make image" in (ROOT / "README.md").read_text()


def test_dockerignore_keeps_local_state_out(docker: list[tuple[str, str]]) -> None:
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().split()
    assert (
        ignore[ignore.index("*") if "*" in ignore else 0] == "*"
    )  # deny by default: .venv, .cartera, .git stay out
    copied = [
        arg.split()[-2] if len(arg.split()) > 1 else arg
        for op, arg in docker
        if op == "COPY" and "--from" not in arg
    ]
    for source in " ".join(copied).split():
        if source.startswith("--") or source.startswith("/"):
            continue
        assert f"!{source.rstrip('/')}" in ignore or f"!{source.rstrip('/')}/" in ignore, source


# ------------------------------------------------------------------------------------------------
# Helm values against the chart's documented keys (helm/dagster values schema of dagster-io/dagster)

ANY = object()  # a free-form mapping (env lists, Kubernetes resources, pod specs...)

K8S_LISTS = ANY
CHART_KEYS: dict[str, Any] = {
    "global": {
        "postgresqlSecretName": None,
        "dagsterHome": None,
        "serviceAccountName": None,
        "celeryConfigSecretName": None,
        "dagsterInstanceConfigMap": None,
    },
    "generatePostgresqlPasswordSecret": None,
    "generateCeleryConfigSecret": None,
    "postgresql": {
        "image": ANY,
        "enabled": None,
        "postgresqlHost": None,
        "postgresqlUsername": None,
        "postgresqlPassword": None,
        "postgresqlDatabase": None,
        "postgresqlParams": ANY,
        "postgresqlScheme": None,
        "service": {"port": None},
    },
    "dagsterWebserver": {
        k: ANY
        for k in [
            "replicaCount",
            "image",
            "nameOverride",
            "pathPrefix",
            "service",
            "workspace",
            "env",
            "envConfigMaps",
            "envSecrets",
            "deploymentLabels",
            "labels",
            "nodeSelector",
            "affinity",
            "tolerations",
            "podSecurityContext",
            "securityContext",
            "resources",
            "readinessProbe",
            "livenessProbe",
            "startupProbe",
            "annotations",
            "enableReadOnly",
            "dbStatementTimeout",
            "dbPoolRecycle",
            "logLevel",
            "schedulerName",
            "volumeMounts",
            "volumes",
        ]
    },
    "dagster-user-deployments": {
        "enabled": None,
        "enableSubchart": None,
        "imagePullSecrets": ANY,
        "deployments": [
            {
                k: ANY
                for k in [
                    "name",
                    "image",
                    "dagsterApiGrpcArgs",
                    "codeServerArgs",
                    "includeConfigInLaunchedRuns",
                    "port",
                    "env",
                    "envConfigMaps",
                    "envSecrets",
                    "annotations",
                    "nodeSelector",
                    "affinity",
                    "tolerations",
                    "podSecurityContext",
                    "securityContext",
                    "resources",
                    "livenessProbe",
                    "readinessProbe",
                    "startupProbe",
                    "labels",
                    "volumeMounts",
                    "volumes",
                    "schedulerName",
                ]
            }
        ],
    },
    "runLauncher": {
        "type": None,
        "config": {
            "k8sRunLauncher": {
                **{
                    k: ANY
                    for k in [
                        "image",
                        "imagePullPolicy",
                        "jobNamespace",
                        "loadInclusterConfig",
                        "kubeconfigFile",
                        "envConfigMaps",
                        "envSecrets",
                        "envVars",
                        "volumeMounts",
                        "volumes",
                        "labels",
                        "failPodOnRunFailure",
                        "resources",
                        "schedulerName",
                        "securityContext",
                    ]
                },
                "runK8sConfig": {
                    k: ANY
                    for k in [
                        "containerConfig",
                        "podSpecConfig",
                        "podTemplateSpecMetadata",
                        "jobSpecConfig",
                        "jobMetadata",
                    ]
                },
            },
            "celeryK8sRunLauncher": ANY,
            "customRunLauncher": ANY,
        },
    },
    "dagsterDaemon": {
        **{
            k: ANY
            for k in [
                "schedulerName",
                "volumeMounts",
                "volumes",
                "enabled",
                "image",
                "heartbeatTolerance",
                "env",
                "envConfigMaps",
                "envSecrets",
                "deploymentLabels",
                "labels",
                "nodeSelector",
                "affinity",
                "tolerations",
                "podSecurityContext",
                "securityContext",
                "resources",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
                "annotations",
                "sensors",
                "schedules",
            ]
        },
        "runCoordinator": {
            "enabled": None,
            "type": None,
            "config": {
                "queuedRunCoordinator": {
                    "maxConcurrentRuns": None,
                    "dequeueIntervalSeconds": None,
                    "dequeueNumWorkers": None,
                    "dequeueUseThreads": None,
                    "blockOpConcurrencyLimitedRuns": ANY,
                    "tagConcurrencyLimits": [{"key": None, "value": ANY, "limit": None}],
                },
                "customRunCoordinator": ANY,
            },
        },
        "runMonitoring": {
            k: None
            for k in [
                "enabled",
                "startTimeoutSeconds",
                "cancelTimeoutSeconds",
                "maxResumeRunAttempts",
                "pollIntervalSeconds",
                "freeSlotsAfterRunEndSeconds",
            ]
        },
        "runRetries": {"enabled": None, "maxRetries": None},
    },
    "concurrency": {
        "enabled": None,
        "pools": {"defaultLimit": None, "granularity": None, "opGranularityRunBuffer": None},
        "runs": {"maxConcurrentRuns": None, "tagConcurrencyLimits": ANY},
    },
    "additionalInstanceConfig": ANY,
    **{
        k: ANY
        for k in [
            "rabbitmq",
            "redis",
            "flower",
            "ingress",
            "imagePullSecrets",
            "computeLogManager",
            "scheduler",
            "pythonLogs",
            "busybox",
            "migrate",
            "telemetry",
            "serviceAccount",
            "retention",
            "nameOverride",
            "fullnameOverride",
            "rbacEnabled",
        ]
    },
}


def unknown_keys(value: Any, schema: Any, path: str = "") -> list[str]:
    if schema is ANY or schema is None:
        return [] if schema is ANY or not isinstance(value, dict) else [f"{path} should be a scalar"]
    if isinstance(schema, list):
        assert isinstance(value, list), f"{path} should be a list"
        return [e for i, item in enumerate(value) for e in unknown_keys(item, schema[0], f"{path}[{i}]")]
    assert isinstance(value, dict), f"{path} should be a mapping"
    errors = [f"{path}.{k}" for k in value if k not in schema]
    return errors + [
        e for k, v in value.items() if k in schema for e in unknown_keys(v, schema[k], f"{path}.{k}")
    ]


def test_helm_values_use_only_chart_keys(values: dict[str, Any]) -> None:
    assert unknown_keys(values, CHART_KEYS) == []


def test_helm_chart_version_matches_the_locked_dagster(values: dict[str, Any]) -> None:
    text = VALUES.read_text()
    pinned = re.search(r"chart-version: ([\d.]+)", text)
    assert pinned and pinned.group(1) == _locked_version("dagster")
    assert f"--version {pinned.group(1)}" in text


def test_helm_values_external_postgres_from_a_secret(values: dict[str, Any]) -> None:
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlHost"]
    assert "postgresqlPassword" not in values["postgresql"], (
        "the password comes from the secret, never the values"
    )
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]


def test_helm_values_user_code_secrets_and_variables(deployment: dict[str, Any]) -> None:
    from cartera_pipelines.settings import VARIABLES

    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    plain = {e["name"] for e in deployment["env"]}
    secret_vars = {v.name for v in VARIABLES if v.secret} - {
        "DAGSTER_PG_URL"
    }  # the chart builds the instance's
    assert not plain & secret_vars, "secrets must come from envSecrets, not plain env"
    assert {s["name"] for s in deployment["envSecrets"]} >= {"cartera-stores", "cartera-apis"}
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    assert deployment["podSecurityContext"]["runAsUser"] >= 1000


def test_helm_values_run_launcher_and_ttl(values: dict[str, Any]) -> None:
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    run_k8s = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert run_k8s["jobSpecConfig"]["ttlSecondsAfterFinished"] > 0
    assert run_k8s["containerConfig"]["resources"]["requests"]


def test_helm_values_match_the_instance_config(values: dict[str, Any]) -> None:
    """The Kubernetes instance (rendered by the chart) behaves like deploy/dagster.yaml."""
    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert queued["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    assert queued["dequeueUseThreads"] == instance["run_queue"]["dequeue_use_threads"]
    assert queued["dequeueNumWorkers"] == instance["run_queue"]["dequeue_num_workers"]
    # the chart refuses run limits in both places: they live in the run coordinator only
    assert not values["concurrency"].get("runs")
    pools = instance["concurrency"]["pools"]
    assert values["concurrency"]["enabled"] is True
    assert values["concurrency"]["pools"] == {
        "defaultLimit": pools["default_limit"],
        "granularity": pools["granularity"],
    }
    monitoring = daemon["runMonitoring"]
    assert monitoring["enabled"] is True
    assert (
        monitoring["freeSlotsAfterRunEndSeconds"]
        == instance["run_monitoring"]["free_slots_after_run_end_seconds"]
    )
    assert values["additionalInstanceConfig"]["run_retries"] == instance["run_retries"]
    assert daemon["runRetries"]["enabled"] is False  # else the chart would render run_retries twice


def test_secret_names_are_documented(values: dict[str, Any], deployment: dict[str, Any]) -> None:
    names = [values["global"]["postgresqlSecretName"], *(s["name"] for s in deployment["envSecrets"])]
    names += [v["configMap"]["name"] for v in deployment["volumes"] if "configMap" in v]
    readme, production = (ROOT / "README.md").read_text(), (ROOT / "docs" / "production.md").read_text()
    for name in names:
        assert name in production, f"docs/production.md does not explain {name}"
        assert name in readme, f"README.md does not name {name}"


def test_instance_configs_agree_on_queue_semantics() -> None:
    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    deploy = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())

    def keys(config: dict) -> set:
        return {
            (t["key"], json.dumps(t.get("value")))
            for t in config["concurrency"]["runs"]["tag_concurrency_limits"]
        }

    assert keys(local) - {("tns/server", '{"applyLimitPerUniqueValue": true}')} <= keys(deploy)
    assert deploy["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert deploy["run_retries"]["retry_on_asset_or_op_failure"] is False


def test_heavy_jobs_carry_their_k8s_resources() -> None:
    """The per-job requests docs/production.md promises are on the jobs themselves."""
    import json

    from cartera_pipelines.definitions import defs

    repo = defs().get_repository_def()
    expected = {
        "forecasting_train_job": ("2", "3Gi", "6Gi"),
        "tns_extract_job": ("500m", "1Gi", "2Gi"),
        "contifico_sync_job": ("250m", "512Mi", "1Gi"),
    }
    for job, (cpu, memory, limit) in expected.items():
        config = json.loads(repo.get_job(job).tags["dagster-k8s/config"])
        resources = config["container_config"]["resources"]
        assert resources == {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": limit}}, job
