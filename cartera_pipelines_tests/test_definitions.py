"""The code location loads, quickly and without I/O, and its graph changes only when reviewed.

The snapshot (``snapshots/definitions.json``) lists asset keys with their groups, checks, jobs, schedules
and sensors. After an intended change, regenerate it with
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


def describe(definitions: dg.Definitions) -> dict[str, object]:
    repo = definitions.get_repository_def()
    graph = repo.asset_graph
    assets = {
        key.to_user_string(): {
            "group": graph.get(key).group_name,
            "kind": "materializable" if graph.get(key).is_materializable else "external",
            "partitioned": graph.get(key).partitions_def is not None,
        }
        for key in sorted(graph.get_all_asset_keys())
    }
    checks = sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys)
    return {
        "assets": assets,
        "checks": checks,
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def test_definitions_validate_with_the_dagster_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


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
        "heavy = sorted(m for m in ('prophet', 'xgboost', 'mlflow', 'matplotlib', 'fdb', 'httpx') if m in sys.modules)\n"
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
