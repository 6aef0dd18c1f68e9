"""Browser fixtures: Debian's chromium (``/usr/bin/chromium``) driven by Playwright for Python.

Without chromium the tests are skipped locally and FAIL under ``CI=true``. Screenshots go to
``$LETTA_ACTORS_ARTIFACTS/console`` (or a temporary folder), printed at the end of the session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.daemon.conftest import DaemonProcess, StartDaemon, start_daemon  # noqa: F401

from .helpers import CONSOLE_TEAM, TOKEN

CHROMIUM = os.environ.get("LETTA_ACTORS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    "--disable-background-networking",  # else it keeps trying hosts it cannot reach
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long a browser step may wait for the page (a loaded 2-core machine is slow).
STEP_TIMEOUT_MS = 30_000
expect.set_options(timeout=STEP_TIMEOUT_MS)
_folders: list[Path] = []


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium, per module: Playwright's sync API keeps an event loop running in this thread
    while it is open, which the anyio tests of other modules must not meet."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        why = f"no chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser tests must run in CI: {why}", pytrace=False)
        pytest.skip(why)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser tab (its own session storage); fails the test on a JavaScript error."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: ``$LETTA_ACTORS_ARTIFACTS/console`` or a temporary folder."""
    base = os.environ.get("LETTA_ACTORS_ARTIFACTS")
    folder = Path(base) / "console" if base else tmp_path_factory.mktemp("console-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    _folders.append(folder)
    return folder


@pytest.fixture
def console_daemon(start_daemon: StartDaemon) -> DaemonProcess:  # noqa: F811
    """A daemon running the console team, with a bearer token."""
    return start_daemon(CONSOLE_TEAM, env={"LETTA_ACTORS_API_TOKEN": TOKEN})


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for folder in _folders:
        terminalreporter.write_line(f"console screenshots: {folder}")
