"""lib.checks in a multi_asset_check: each result names the check it is for."""

from __future__ import annotations

import dagster as dg

from cartera_pipelines.lib.checks import rows_check


def test_rows_check_names_its_check_in_a_multi_asset_check() -> None:
    @dg.asset
    def table() -> None:
        return None

    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec("no_bad_rows", asset=table), dg.AssetCheckSpec("no_odd_rows", asset=table)]
    )
    def two_checks():
        yield rows_check([], "bad rows", check_name="no_bad_rows")
        yield rows_check([{"id": 3}], "odd rows", check_name="no_odd_rows")

    result = dg.materialize([table, two_checks])
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["no_bad_rows"].passed and not evaluations["no_odd_rows"].passed
    assert evaluations["no_odd_rows"].description == "1 odd rows"
    assert rows_check([], "rows").check_name is None  # single checks need no name
