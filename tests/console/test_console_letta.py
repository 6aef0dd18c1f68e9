"""The console on the real local stack (scripted LLM + Letta): the README's demo kept running
with ``--keep`` shows its run, and a content-team run started from the browser is drawn as it
grows and then cancelled."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from letta_client import Letta
from playwright.sync_api import Page, expect

from letta_actors.daemon.client import TOKEN_VAR
from letta_actors.demo.content_team import scripted_rules, team_toml
from letta_actors.demo.daemon_process import DaemonProcess, start_daemon
from letta_actors.localstack import LocalStack, ScriptedLLMAdmin
from tests.daemon.helpers import REPO, wait_for

from .helpers import TOKEN, log_in, screenshot, start_run, svg_texts

pytestmark = pytest.mark.letta

TEAM = {"chief", "researcher", "writer", "editor"}


def _delete_agents(stack: LocalStack, tag: str) -> None:
    client = Letta(base_url=stack.letta_base_url, max_retries=0)
    for agent in client.agents.list(tags=[tag]):
        client.agents.delete(agent.id)


def test_the_demo_kept_running_shows_its_run_in_the_console(
    letta_stack: LocalStack, scripted_llm: ScriptedLLMAdmin, page: Page, artifacts: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "LETTA_BASE_URL"}
    out = tmp_path / "demo.out"
    with out.open("w") as stdout:
        demo = subprocess.Popen(
            [sys.executable, "-m", "letta_actors.demo", "sea otters", "--keep"],
            cwd=REPO, env={**env, TOKEN_VAR: TOKEN}, stdout=stdout, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def kept() -> bool:
            if demo.poll() is not None:
                raise AssertionError(f"the demo exited {demo.returncode}:\n{out.read_text()}")
            return "kept running" in out.read_text()

        wait_for(kept, timeout=600, what="the demo to keep running")
        found = re.search(r"console: (http://\S+)/ui/ \(log in with (.+)\)", out.read_text())
        assert found and found.group(2) == f"the token in ${TOKEN_VAR}", out.read_text()
        assert TOKEN not in out.read_text()  # a token the user gave is not printed
        url = found.group(1)

        log_in(page, url)
        page.get_by_role("link", name="Runs").click()
        first = page.locator("#runs tbody tr").first
        expect(first).to_contain_text("article")
        expect(first).to_contain_text("completed")
        first.get_by_role("link").click()
        diagram = "#run-diagram"
        expect(page.locator(f"{diagram} svg text.messageText").first).to_be_visible()
        assert TEAM | {"run"} <= set(svg_texts(page, diagram, "text.actor"))
        messages = " ".join(svg_texts(page, diagram, "text.messageText"))  # lines wrap
        assert "request: Gather key facts about: sea otters" in messages, messages
        assert "reply: Edited: Otters, the ocean's engineers" in messages, messages
        usage = page.locator("#run-usage tbody")
        for agent in TEAM:
            expect(usage).to_contain_text(agent)
        expect(page.locator("#run-parts")).to_contain_text("Delegations")
        expect(page.locator("#run-result")).to_contain_text("Final article")
        screenshot(page, artifacts, "demo-run")
    finally:
        demo.send_signal(signal.SIGINT)  # what Ctrl-C does
        demo.wait(timeout=180)
    text = out.read_text()
    assert demo.returncode == 0, text[-3000:]
    assert "daemon stopped (exit 0)" in text


@pytest.fixture
def content_team(
    letta_stack: LocalStack, scripted_llm: ScriptedLLMAdmin, tmp_path: Path
) -> Iterator[DaemonProcess]:
    """The content team in a daemon with a token; the editor's LLM answer is held (300 s), so
    a run stays in progress until cancelled."""
    tag = uuid.uuid4().hex[:8]
    rules = [
        rule.model_copy(update={"latency_seconds": 300.0}) if rule.name == "editor" else rule
        for rule in scripted_rules(tag)
    ]
    scripted_llm.set_rules(rules)
    config = tmp_path / "team.toml"
    config.write_text(
        team_toml(team=f"console-{tag}", token=tag, base_url=letta_stack.letta_base_url,
                  model=letta_stack.model_handle, embedding=letta_stack.embedding_handle)
    )  # fmt: skip
    daemon = start_daemon(config, tmp_path, env={TOKEN_VAR: TOKEN})
    try:
        yield daemon
    finally:
        daemon.stop()
        _delete_agents(letta_stack, tag)


def test_a_letta_run_is_drawn_as_it_grows_and_cancelled(
    content_team: DaemonProcess, page: Page, artifacts: Path
) -> None:
    log_in(page, content_team.url)
    expect(page.locator("#team-diagram svg")).to_be_visible()
    nodes = svg_texts(page, "#team-diagram", ".node")
    assert {f"{name} · letta" for name in TEAM} <= set(nodes), nodes
    screenshot(page, artifacts, "letta-team")

    start_run(page, "article", "sea otters")
    diagram = "#run-diagram"
    to_editor = page.locator(f"{diagram} svg text.messageText", has_text="request: Edit the draft")
    expect(to_editor).to_be_visible(timeout=300_000)  # the run's third delegation, drawn
    expect(page.locator("#run-meta")).to_contain_text("running")  # the editor is held
    assert TEAM | {"run"} <= set(svg_texts(page, diagram, "text.actor"))
    messages = " ".join(svg_texts(page, diagram, "text.messageText"))  # lines wrap
    assert "reply: Notes: sea otters hold hands" in messages, messages
    assert "reply: Draft: Otters are playful" in messages, messages
    usage = page.locator("#run-usage tbody")
    expect(usage).to_contain_text("researcher")  # tokens so far, per agent
    expect(usage).to_contain_text("writer")
    expect(page.locator("#run-parts")).to_contain_text("Delegations")
    screenshot(page, artifacts, "letta-run-in-progress")

    page.get_by_role("button", name="Cancel this run").click()
    expect(page.locator("#run-meta")).to_contain_text("cancelled", timeout=120_000)
    cancelled = page.locator(f"{diagram} svg text.messageText", has_text="cancelled")
    expect(cancelled.first).to_be_visible()
    expect(page.locator("#run-result")).to_contain_text("Partial result: the run ended cancelled")
    screenshot(page, artifacts, "letta-run-cancelled")
