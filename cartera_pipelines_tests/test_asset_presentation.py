"""Every asset explains itself in the UI: description, owners, kinds, group, code references, and a
column schema for every asset stored as a table.

One test per asset (parametrized over the loaded definitions), so a failure names the asset and
everything it is missing at once.
"""

from __future__ import annotations

from functools import cache

import dagster as dg
import pytest

FAMILIES = {"contifico", "tns", "forecasting", "loans", "collections", "factoring"}
NOT_TABLES = {"models", "reports"}
"""Stores whose assets are files or registered models, not tables (no column schema expected)."""


@cache
def _graph() -> dg.AssetGraph:
    from cartera_pipelines.definitions import defs

    return defs().resolve_asset_graph()


def _materializable() -> list[dg.AssetKey]:
    graph = _graph()
    return sorted(k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable)


def missing_presentation(key: dg.AssetKey) -> list[str]:
    """What the UI would not show for this asset (empty when it explains itself)."""
    node = _graph().get(key)
    missing = []
    if not (node.description or "").strip():
        missing.append("description")
    if not node.owners:
        missing.append("owners")
    if not node.kinds:
        missing.append("kinds")
    if node.group_name not in FAMILIES:
        missing.append(f"group (is {node.group_name!r}, expected a family name)")
    if "dagster/code_references" not in node.metadata:
        missing.append("dagster/code_references")
    if key.path[0] not in NOT_TABLES:
        schema = node.metadata.get("dagster/column_schema")
        if schema is None:
            missing.append("dagster/column_schema")
        elif not getattr(getattr(schema, "schema", schema), "columns", None):
            missing.append("dagster/column_schema (no columns)")
    return missing


def test_there_are_assets_to_check() -> None:
    keys = _materializable()
    assert keys, "no materializable assets loaded"
    assert {_graph().get(k).group_name for k in keys} == FAMILIES


@pytest.mark.parametrize("key", _materializable(), ids=lambda k: k.to_user_string())
def test_asset_explains_itself(key: dg.AssetKey) -> None:
    missing = missing_presentation(key)
    assert not missing, f"{key.to_user_string()} lacks: {', '.join(missing)}"
