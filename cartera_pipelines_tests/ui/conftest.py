"""Fixtures of the browser tests: one ``dg dev`` on the sandbox per session, Debian's Chromium
driven by Playwright (no browser downloads), and a ``shot`` helper that saves each step's screenshot
under ``$CARTERA_HOME/../screenshots`` and the repository's ``.cartera/screenshots/``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cartera_pipelines_tests.ui.server import ROOT, UiServer, start_ui_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_SCREENSHOTS = ROOT / ".cartera" / "screenshots"
TIMEOUT_MS = 120_000
"""Generous: pages wait for the code location and runs start a process each, on a busy 2-core machine."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing: run `bash scripts/ensure_browser.sh` (apt-get install chromium) as root"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> Iterator[UiServer]:
    """``dg dev`` (webserver + daemon) on a freshly built sandbox; killed at the end of the session."""
    reuse = os.environ.get("CARTERA_UI_TEST_SERVER")
    if reuse:
        # iterating on the tests: `python -m cartera_pipelines_tests.ui.server DIR` keeps one running
        yield UiServer.from_json(Path(reuse))
        return
    base = tmp_path_factory.mktemp("ui")
    server = start_ui_server(base, (base / "screenshots", REPO_SCREENSHOTS))
    try:
        # default-on sensors (TNS discovery, outbox) start a backfill at once; the tests want a quiet instance
        server.quiet()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives every browser a fresh, throwaway profile (user-data dir)
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, ui_server: UiServer, request: pytest.FixtureRequest) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=ui_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    # Dagster OSS greets a new browser with a "Join the community" dialog; a user clicks Skip.
    skip = page.get_by_role("button", name="Skip")
    page.add_locator_handler(skip, lambda: skip.click())
    try:
        yield page
        if request.node.stash.get(CALL_FAILED, False):
            # what the browser showed when the test failed, next to the step screenshots
            png = page.screenshot()
            for directory in ui_server.screenshot_dirs:
                directory.mkdir(parents=True, exist_ok=True)
                (directory / f"FAILED_{request.node.name}.png").write_bytes(png)
    finally:
        context.close()


@pytest.fixture
def shot(page, ui_server: UiServer, request: pytest.FixtureRequest) -> Callable[[str], None]:  # type: ignore[no-untyped-def]
    """``shot("name")`` saves the page as ``<test>__<name>.png`` in every screenshot directory."""
    test = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name.removeprefix("test_"))

    def save(name: str) -> None:
        png = page.screenshot()
        for directory in ui_server.screenshot_dirs:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"{test}__{name}.png").write_bytes(png)

    return save
