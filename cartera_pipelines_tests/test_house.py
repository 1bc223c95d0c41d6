"""The house (issue #19, STYLE.md): the same rooms in every family, thin assets, one-way dependencies.

These tests read the source, not the graph: they keep the shape a newcomer relies on from drifting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cartera_pipelines"
FAMILIES = ("contifico", "tns", "forecasting", "loans", "collections", "factoring")
ROOMS = ("tables.py", "sql.py", "config.py", "assets.py", "checks.py", "automation.py")
ASSET_DECORATORS = {"asset", "multi_asset", "graph_asset", "asset_check", "multi_asset_check"}
MAX_BODY_LINES = 40


def _family_folders() -> list[Path]:
    """Each family folder and every nested package of it that defines assets (e.g. contifico/analytics)."""
    folders = []
    for family in FAMILIES:
        root = PACKAGE / "defs" / family
        folders.append(root)
        folders.extend(p.parent for p in root.glob("*/assets.py"))
    return folders


@pytest.mark.parametrize("folder", _family_folders(), ids=lambda p: str(p.relative_to(PACKAGE / "defs")))
def test_every_family_has_the_same_rooms(folder: Path) -> None:
    missing = [room for room in ROOMS if not (folder / room).is_file()]
    assert not missing, f"{folder.relative_to(PACKAGE)} lacks {missing}"


@pytest.mark.parametrize("folder", _family_folders(), ids=lambda p: str(p.relative_to(PACKAGE / "defs")))
def test_partitioned_families_keep_partitions_in_their_room(folder: Path) -> None:
    for path in folder.glob("*.py"):
        if path.name == "partitions.py":
            continue
        text = path.read_text()
        assert "PartitionsDefinition(" not in text, (
            f"{path.relative_to(PACKAGE)} defines partitions outside partitions.py"
        )


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("room", ["resources", "lib"])
def test_resources_and_lib_import_no_family(room: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            n for n in _imports(path) if n.startswith("cartera_pipelines.defs")
        )
        for path in (PACKAGE / room).rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _body_lines(function: ast.FunctionDef) -> int:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring documents, it does not do the logic's job
    return 0 if not body else body[-1].end_lineno - body[0].lineno + 1


def test_asset_bodies_are_thin() -> None:
    """Read → logic → write → report: an asset body past 40 lines is doing the logic's job."""
    too_long = {}
    for path in (PACKAGE / "defs").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            is_asset = isinstance(node, ast.FunctionDef) and any(
                _decorator_name(d) in ASSET_DECORATORS for d in node.decorator_list
            )
            if is_asset and (lines := _body_lines(node)) > MAX_BODY_LINES:
                too_long[f"{path.relative_to(PACKAGE)}:{node.name}"] = lines
    assert not too_long, too_long
