"""The house (issue #19, STYLE.md): the same rooms in every family, thin assets, one-way dependencies.

These tests read the source, not the graph: they keep the shape a newcomer relies on from drifting.
"""

from __future__ import annotations

import ast
import gc
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


def _parse_all(root: Path) -> dict[Path, ast.Module]:
    """Every module under `root`, parsed with the garbage collector held off.

    CPython 3.11 keeps the AST builder's recursion depth in the interpreter's shared AST state.
    A finalizer that runs during the build and formats a traceback (3.11's traceback calls
    `ast.parse` for its carets) resets it, and the outer parse fails with "SystemError: AST
    constructor recursion depth mismatch" (met by others too: pytest-dev/pytest#10874,
    dagster-io/dagster#19047). The suite met it once in CI: an earlier test's unreferenced Dagster
    instance was collected mid-parse and SQLAlchemy logged its connection's close error.
    """
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        return {path: ast.parse(path.read_text()) for path in sorted(root.rglob("*.py"))}
    finally:
        if was_enabled:
            gc.enable()


class _ParsesWhenCollected:
    """Garbage shaped like the suite's: its finalizer formats a traceback, which parses."""

    def __init__(self) -> None:
        self.cycle = self  # only the cyclic collector frees it, at a moment nobody chooses

    def __del__(self) -> None:
        ast.parse("instance.dispose()[0]")


def test_parsing_the_source_survives_finalizers_that_parse() -> None:
    threshold, was_enabled = gc.get_threshold(), gc.isenabled()
    try:
        for attempt in range(20):
            gc.disable()  # let garbage pile up, as between two tests
            for _ in range(50):
                _ParsesWhenCollected()
            # the next collection lands inside the parse (it allocates tens of thousands of nodes),
            # at another node each time: at some depths the counts happen to balance
            gc.set_threshold(gc.get_count()[0] + 500 + 97 * attempt)
            gc.enable()
            assert _parse_all(PACKAGE / "defs" / "tns")
    finally:
        gc.set_threshold(*threshold)
        if not was_enabled:
            gc.disable()


def _imports(module: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("room", ["resources", "lib"])
def test_resources_and_lib_import_no_family(room: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            n for n in _imports(module) if n.startswith("cartera_pipelines.defs")
        )
        for path, module in _parse_all(PACKAGE / room).items()
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
    for path, module in _parse_all(PACKAGE / "defs").items():
        for node in ast.walk(module):
            is_asset = isinstance(node, ast.FunctionDef) and any(
                _decorator_name(d) in ASSET_DECORATORS for d in node.decorator_list
            )
            if is_asset and (lines := _body_lines(node)) > MAX_BODY_LINES:
                too_long[f"{path.relative_to(PACKAGE)}:{node.name}"] = lines
    assert not too_long, too_long
