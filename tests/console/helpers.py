"""The console tests' team (plain-Python agents, no Letta) and browser helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.daemon.helpers import REPO

TOKEN = "console-test-token-7c2e"

#: Agents under the root and under a subtree, a link, a topic, and workflows: a quick one
#: (``shout``), one that waits ~forever on its second stage (``held``, to cancel), a vote.
CONSOLE_TEAM = f"""
[team]
name = "console-team"
python_path = ["{REPO}"]
shutdown_timeout = 5

[supervisors.desk]
strategy = "one_for_all"

[agents.echo]
kind = "python"
factory = "tests.daemon.actors:Echo"
args = {{ prefix = "echo: " }}

[agents.upper]
kind = "python"
factory = "tests.daemon.actors:Upper"
supervisor = "desk"

[agents.slow]
kind = "python"
factory = "tests.daemon.actors:Slow"
args = {{ delay = 3600 }}
supervisor = "desk"
shutdown = 0.2

[agents.failing]
kind = "python"
factory = "tests.daemon.actors:Failing"

[agents.alice]
kind = "python"
factory = "tests.console.actors:Voter"
args = {{ choice = "tea" }}

[agents.bob]
kind = "python"
factory = "tests.console.actors:Voter"
args = {{ choice = "tea" }}

[[links]]
from = "echo"
to = "upper"

[topics]
"news" = ["echo", "upper"]

[workflows.shout]
kind = "pipeline"
description = "echo, then upper-case"
stages = [{{ name = "echo", actor = "echo" }}, {{ name = "upper", actor = "upper" }}]

[workflows.held]
kind = "pipeline"
description = "echo, then a stage that does not finish (cancel it)"
stages = [{{ name = "echo", actor = "echo" }}, {{ name = "wait", actor = "slow" }}]

[workflows.vote]
kind = "consensus"
description = "tea or coffee"
voters = ["alice", "bob"]
rules = {{ options = ["tea", "coffee"] }}

[api]
port = 0
max_ask_timeout = 30
"""


def log_in(page: Page, url: str, token: str = TOKEN) -> None:
    """Open the console and log in; returns once the team view is shown."""
    page.goto(f"{url}/ui/")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Open the console").click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("Live")


def start_run(page: Page, workflow: str, text: str) -> None:
    """Start a run of ``workflow`` from the console's form (the console then opens it)."""
    page.get_by_role("link", name="Ask, tell, run").click()
    page.get_by_label("Workflow", exact=True).select_option(workflow)
    page.get_by_label("Input", exact=True).fill(text)
    page.get_by_role("button", name="Start the run").click()


def svg_texts(page: Page, selector: str, css: str) -> list[str]:
    """The texts of the SVG elements matching ``css`` inside the diagram ``selector``."""
    texts: list[str] = page.locator(f"{selector} svg {css}").all_text_contents()
    return [" ".join(t.split()) for t in texts]


def screenshot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def text_contrast(page: Page) -> list[dict[str, Any]]:
    """Every visible text element of the page outside diagrams (and each input's placeholder),
    with its contrast ratio against the background it is drawn on (WCAG 2 formula; the
    background is the nearest ancestor's opaque colour, composited over white)."""
    result: list[dict[str, Any]] = page.evaluate(_CONTRAST_JS)
    return result


_CONTRAST_JS = (Path(__file__).parent / "contrast.js").read_text()
