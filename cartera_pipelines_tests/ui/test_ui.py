"""The Dagster UI as our users use it, in Debian's Chromium against ``dg dev`` on the sandbox.

Each test saves a screenshot of every step (see ``conftest.shot``). Runs are launched from the UI where
that is what a user does (the launchpad, the asset page's Materialize button); the collections assignment
and the wrong-key run are launched through the same server's GraphQL API, then read in the UI.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from cartera_pipelines_tests.ui.server import UiServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FAMILIES = ("contifico", "tns", "forecasting", "loans", "collections", "factoring")
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
"""For the runs launched by GraphQL: one process per run instead of one per step (faster on 2 cores)."""


def _run_ids(server: UiServer) -> set[str]:
    data = server.graphql("{ runsOrError(limit: 500) { ... on Runs { results { runId } } } }")
    return {r["runId"] for r in data["runsOrError"]["results"]}


def _new_run_of(server: UiServer, before: set[str], asset: list[str], timeout: float = 120) -> str:
    """The run a UI click created for ``asset`` (the click itself gives us no id)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = server.graphql(
            "{ runsOrError(limit: 20) { ... on Runs { results { runId assetSelection { path } } } } }"
        )
        for run in data["runsOrError"]["results"]:
            if run["runId"] not in before and asset in [a["path"] for a in run["assetSelection"] or []]:
                return str(run["runId"])
        time.sleep(1)
    raise AssertionError(
        f"no run of {'/'.join(asset)} appeared within {timeout:.0f}s of clicking Materialize"
    )


def test_asset_graph_shows_the_six_groups_and_no_code_location_error(page, ui_server: UiServer, shot) -> None:
    page.goto("/deployment/locations")
    page.get_by_text("cartera_pipelines.definitions").first.wait_for()
    page.get_by_text("Loaded", exact=True).first.wait_for()
    shot("code_location_loaded")
    assert page.get_by_text(re.compile("error", re.IGNORECASE)).count() == 0, (
        "the code location shows an error"
    )

    page.goto("/asset-groups")
    for family in FAMILIES:
        page.get_by_text(family, exact=True).first.wait_for()
    page.get_by_text(re.compile(r"^Materialize all")).first.wait_for()
    page.wait_for_timeout(3_000)  # let the group boxes fetch their statuses before the picture
    shot("asset_graph")
    assert page.get_by_text(re.compile("error loading|failed to load", re.IGNORECASE)).count() == 0

    page.goto("/jobs")
    page.get_by_text("loans_simulate_job", exact=True).wait_for()
    jobs = page.inner_text("body")
    shot("jobs")
    missing = [f for f in FAMILIES if not re.search(rf"\b{f}_\w+_job\b", jobs)]
    assert not missing, f"no job listed for families {missing}: a user cannot launch their main job"


def test_loan_simulation_from_the_launchpad_shows_its_schedule(page, ui_server: UiServer, shot) -> None:
    page.goto("/locations/cartera_pipelines/jobs/loans_simulate_job/playground")
    editor = page.locator(".CodeMirror").first
    editor.wait_for()
    page.get_by_text("simulate_schedule", exact=True).first.wait_for()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # insert_text (not typing) so the editor's auto-indent does not shift the YAML
    page.keyboard.insert_text(
        "ops:\n"
        "  simulate_schedule:\n"
        "    config:\n"
        "      principal: '5000000.00'\n"
        "      annual_rate: '18.00'\n"
        "      installments: 6\n"
        "      modality: MENSUAL\n"
        "      method: FRANCESA\n"
        "      base_date: '2025-01-15'\n"
    )
    page.get_by_text("No errors").first.wait_for()
    shot("launchpad_with_run_config")
    page.get_by_role("button", name="Launch Run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = page.url.rstrip("/").split("/")[-1].split("?")[0]
    assert ui_server.wait_for_run(run_id) == "SUCCESS", ui_server.logs()

    page.get_by_text("RUN_SUCCESS").first.wait_for()
    # the op's output metadata, as a user reads it in the run log
    output = page.get_by_text('Yielded output "result"').first
    output.scroll_into_view_if_needed()
    for fact in ("installments", "first_payment", "total_paid", "total_interest", "first_due", "last_due"):
        page.get_by_text(fact, exact=True).first.wait_for()
    # 6 monthly French installments of 5,000,000 at 18 % a year from 2025-01-15
    page.get_by_text("2025-02-15", exact=True).first.wait_for()
    page.get_by_text("2025-07-15", exact=True).first.wait_for()
    shot("run_metadata")
    page.get_by_text("[Show Markdown]").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("table").first.wait_for()
    assert dialog.get_by_role("row").count() == 1 + 6, (
        "the schedule table should have a header and 6 installments"
    )
    shot("schedule_table")


def test_contifico_asset_materialized_from_the_ui_shows_counts_and_preview(
    page, ui_server: UiServer, shot
) -> None:
    asset = ["warehouse", "contifico_categories"]
    page.goto("/assets/" + "/".join(asset))
    button = page.locator("button", has_text=re.compile(r"^Materialize$"))
    button.wait_for()
    shot("asset_page_before")
    before = _run_ids(ui_server)
    button.click()
    run_id = _new_run_of(ui_server, before, asset)
    assert ui_server.wait_for_run(run_id) == "SUCCESS", ui_server.logs()

    page.goto("/assets/" + "/".join(asset))
    page.get_by_text("Latest materialization").first.wait_for()
    metadata = page.get_by_role("table").filter(has_text="preview")
    metadata.first.wait_for()
    for key in ("fetched", "new", "changed", "pages", "preview"):
        assert metadata.first.get_by_text(key, exact=True).count() >= 1, f"metadata {key} is not shown"
    page.get_by_text("Row count").first.wait_for()
    # the preview is a Markdown table of the synced categories
    metadata.first.get_by_text("product_type").first.wait_for()
    metadata.first.scroll_into_view_if_needed()
    shot("asset_metadata")


def test_collections_assignment_links_its_reports(page, ui_server: UiServer, shot) -> None:
    run_id = ui_server.launch("collections_assign_job", run_config=IN_PROCESS)
    assert ui_server.wait_for_run(run_id) == "SUCCESS", ui_server.logs()

    page.goto("/assets/reports/collections_assignment")
    page.get_by_text("file_reporte_fijos_efect.xlsx", exact=True).first.wait_for()
    body = page.inner_text("body")
    reports_dir = ui_server.home / "reports" / "collections"
    shown = re.findall(re.escape(str(reports_dir)) + r"/\S+", body)
    assert any(p.endswith("reporte_fijos_efect.xlsx") for p in shown), body
    assert any(re.search(r"asignacion_\w+\.txt$", p) for p in shown), body
    for path in shown:
        assert Path(path).exists(), f"the metadata links {path}, which does not exist"
    directory = page.locator("a[href^='file://']").first
    assert str(reports_dir) in (directory.get_attribute("href") or "")
    page.get_by_text("file_reporte_fijos_efect.xlsx", exact=True).first.scroll_into_view_if_needed()
    shot("report_links")


def test_failed_run_shows_the_one_line_cause(page, ui_server: UiServer, shot) -> None:
    wrong_key = "not-the-contifico-key"
    simulator_url = ui_server.contifico_url
    run_id = ui_server.launch(
        "__ASSET_JOB",
        assets=[["warehouse", "contifico_brands"]],
        run_config={
            **IN_PROCESS,
            "resources": {"contifico": {"config": {"base_url": simulator_url, "api_key": wrong_key}}},
        },
    )
    assert ui_server.wait_for_run(run_id) == "FAILURE"

    data = ui_server.graphql(
        """query($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection { events { __typename
             ... on ExecutionStepFailureEvent { failureMetadata { description } error { message errorChain { isExplicitLink } } }
           } } } } }""",
        {"id": run_id},
    )
    failures = [
        e
        for e in data["runOrError"]["eventConnection"]["events"]
        if e["__typename"] == "ExecutionStepFailureEvent"
    ]
    assert len(failures) == 1
    description = failures[0]["failureMetadata"]["description"]
    assert "\n" not in description and "Traceback" not in description
    assert description.startswith("Contifico rejected the API key") and "CONTIFICO_API_KEY" in description
    assert failures[0]["error"]["errorChain"] == [], "the cause should not be chained under another traceback"

    page.goto(f"/runs/{run_id}")
    page.get_by_text("RUN_FAILURE").first.wait_for()
    cause = page.get_by_text(re.compile(r"Contifico rejected the API key")).first
    cause.wait_for()
    cause.scroll_into_view_if_needed()
    text = page.inner_text("body")
    assert "set CONTIFICO_API_KEY to a valid key" in text
    assert "The above exception was caused by" not in text
    assert "Traceback (most recent call last)" not in text
    assert wrong_key not in text, "the key itself must never be shown"
    shot("failure_cause")
