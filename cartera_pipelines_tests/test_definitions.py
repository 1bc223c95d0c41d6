"""The code location loads, quickly and without I/O, and its graph changes only when reviewed.

The snapshot (``snapshots/definitions.json``) lists asset keys with their groups, deps, owners, kinds,
pools, partitions and automation; checks; jobs; schedules with cron and zone; sensors with their jobs. After an intended change, regenerate it with
``UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest cartera_pipelines_tests/test_definitions.py`` and review
the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
FAMILIES = {"contifico", "tns", "forecasting", "loans", "collections", "factoring"}


def _definitions() -> dg.Definitions:
    from cartera_pipelines.definitions import defs

    return defs()


def _partitions(node) -> str | None:
    definition = node.partitions_def
    if definition is None:
        return None
    if isinstance(definition, dg.DynamicPartitionsDefinition):
        return f"dynamic:{definition.name}"
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        return f"time:{definition.cron_schedule}@{definition.timezone}"
    return type(definition).__name__


def describe(definitions: dg.Definitions) -> dict[str, object]:
    """What a reviewer should see change: keys, groups, deps, owners, kinds, pools, partitions, automation,
    checks (with blocking), jobs with their tags, schedules with cron and zone, sensors with their jobs."""
    repo = definitions.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kind": "materializable" if node.is_materializable else "external",
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "owners": sorted(node.owners),
            "kinds": sorted(node.kinds),
            "pools": sorted(node.pools or []),
            "partitions": _partitions(node),
            "automation": node.automation_condition.get_label() if node.automation_condition else None,
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        checks[f"{check_key.asset_key.to_user_string()}:{check_key.name}"] = {"blocking": spec.blocking}
    jobs = {
        job.name: {"tags": {k: v for k, v in sorted(job.tags.items()) if not k.startswith("dagster-k8s")}}
        for job in repo.get_all_jobs()
        if not job.name.startswith("__")
    }
    return {
        "assets": assets,
        "checks": checks,
        "jobs": dict(sorted(jobs.items())),
        "schedules": {
            s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name}
            for s in sorted(repo.schedule_defs, key=lambda s: s.name)
        },
        "sensors": {
            s.name: {"jobs": sorted(job.name for job in s.jobs) if s.has_jobs else []}
            for s in sorted(repo.sensor_defs, key=lambda s: s.name)
        },
    }


def test_dg_check_defs() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_snapshot_of_the_graph() -> None:
    current = describe(_definitions())
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), "no snapshot: run with UPDATE_SNAPSHOTS=1 and commit snapshots/definitions.json"
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_materializable_asset_is_documented() -> None:
    graph = _definitions().get_repository_def().asset_graph
    problems = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        spec = node.to_asset_spec() if hasattr(node, "to_asset_spec") else None
        name = key.to_user_string()
        if node.group_name not in FAMILIES:
            problems.append(f"{name}: group {node.group_name!r} is not a family")
        if not (node.description or "").strip():
            problems.append(f"{name}: no description")
        if not node.owners:
            problems.append(f"{name}: no owners")
        if not node.kinds:
            problems.append(f"{name}: no kinds")
        if key.path[0] not in {"warehouse", "operations", "models", "reports"}:
            problems.append(f"{name}: key does not start with a store")
        del spec
    assert problems == []


def test_loading_does_no_io_and_no_heavy_imports(tmp_path: Path) -> None:
    """Import and build the definitions in a fresh interpreter with every store unreachable."""
    probe = (
        "import sys\n"
        "from cartera_pipelines.definitions import defs\n"
        "defs().get_repository_def().asset_graph\n"
        "heavy = sorted(m for m in ('xgboost', 'mlflow', 'matplotlib', 'fdb', 'httpx') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    env = {
        **os.environ,
        "CARTERA_HOME": str(tmp_path / "nowhere"),
        "CARTERA_LENDING_URL": "mysql+pymysql://u:p@127.0.0.1:1/x",
        "CARTERA_OPERATIONS_URL": "postgresql+psycopg2://u:p@127.0.0.1:1/x",
        "CARTERA_WAREHOUSE_URL": "postgresql+psycopg2://u:p@127.0.0.1:1/x",
        "CONTIFICO_API_BASE_URL": "http://127.0.0.1:1/",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    heavy = result.stdout.strip().rsplit("HEAVY=", 1)[1]
    assert heavy in ("", "httpx"), f"imported at load time: {heavy}"
    assert not (tmp_path / "nowhere").exists(), "loading the definitions created files"
