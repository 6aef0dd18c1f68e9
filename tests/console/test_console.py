"""The web console in a real browser (Debian's chromium, Playwright), against a real daemon
process running plain-Python agents: the token rule, every view (screenshots saved), the
forms and their error messages, a run's diagram as it grows, cancelling, keyboard and contrast."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.daemon.conftest import DaemonProcess

from .helpers import TOKEN, log_in, screenshot, start_run, svg_texts, text_contrast

#: The views reached from the navigation, by link text and section id.
VIEWS = {
    "Team": "view-team",
    "Actors": "view-actors",
    "Runs": "view-runs",
    "Dead letters": "view-dead-letters",
    "Ask, tell, run": "view-act",
}


def test_static_page_is_open_and_data_needs_the_token(
    console_daemon: DaemonProcess, page: Page, artifacts: Path
) -> None:
    with httpx.Client(base_url=console_daemon.url, timeout=30) as http:
        index = http.get("/ui/")
        assert index.status_code == 200 and "letta-actors console" in index.text
        assert "script-src 'self'" in index.headers["content-security-policy"]
        assert http.get("/ui/vendor/mermaid.min.js").status_code == 200
        assert http.get("/ui").headers["location"] == "/ui/"
        for path in ("/v1/team", "/v1/console/live", "/v1/console/dead-letters"):
            refused = http.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"] == "Bearer"

    page.goto(f"{console_daemon.url}/ui/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    unauthorised = page.evaluate("fetch('/v1/team').then((r) => r.status)")
    assert unauthorised == 401
    page.get_by_label("Token").fill("not-the-token")
    page.get_by_role("button", name="Open the console").click()
    expect(page.locator("#login-error")).to_have_text(
        "The token was refused (HTTP 401): one valid bearer token is required"
    )
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0  # a refused token is not kept
    screenshot(page, artifacts, "login-refused")

    # The daemon not answering: said so, and the token stays in the form to try again.
    page.route("**/v1/team", lambda route: route.abort())
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Open the console").click()
    expect(page.locator("#login-error")).to_contain_text("The daemon does not answer")
    expect(page.get_by_label("Token")).to_have_value(TOKEN)
    page.unroute("**/v1/team")
    page.get_by_role("button", name="Open the console").click()
    expect(page.locator("#connection")).to_have_text("Live")
    assert TOKEN not in page.url  # the token never goes into the address
    assert page.evaluate("Object.values(sessionStorage)") == [TOKEN]
    page.reload()  # the session keeps it: no second login
    expect(page.locator("#connection")).to_have_text("Live")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_views_show_the_team_live(
    console_daemon: DaemonProcess, page: Page, artifacts: Path
) -> None:
    log_in(page, console_daemon.url)
    team = page.locator("#team-diagram svg")
    expect(team).to_be_visible()
    nodes = svg_texts(page, "#team-diagram", ".node")
    for name in ("root · supervisor", "desk · supervisor", "echo · python", "slow · python"):
        assert name in nodes, nodes
    assert "topic news" in nodes
    assert "link" in svg_texts(page, "#team-diagram", ".edgeLabel")
    expect(page.locator("#workflows")).to_contain_text("echo, then upper-case")
    screenshot(page, artifacts, "team")

    page.get_by_role("link", name="Actors").click()
    row = page.locator("#actors tr[data-actor='upper']")
    expect(row).to_contain_text("desk")
    expect(row).to_contain_text("running")
    # A message to the busy agent: the live view shows it working and its mailbox growing.
    with console_daemon.client(TOKEN) as http:
        for n in range(2):
            assert http.post("/v1/agents/slow/tell", json={"message": f"job {n}"}).is_success
    slow = page.locator("#actors tr[data-actor='slow']")
    expect(slow).to_contain_text("job 0")
    expect(slow).to_contain_text("1 / 1000")
    screenshot(page, artifacts, "actors")

    # A told message the agent fails on becomes a dead letter, shown live.
    with console_daemon.client(TOKEN) as http:
        assert http.post("/v1/agents/failing/tell", json={"message": "boom"}).is_success
    page.get_by_role("link", name="Dead letters").click()
    letters = page.locator("#dead-letters tbody")
    expect(letters).to_contain_text("failing")
    expect(letters).to_contain_text("RuntimeError: cannot handle 'boom'")
    screenshot(page, artifacts, "dead-letters")


def test_forms_and_readable_errors(
    console_daemon: DaemonProcess, page: Page, artifacts: Path
) -> None:
    log_in(page, console_daemon.url)
    page.get_by_role("link", name="Ask, tell, run").click()
    out = page.locator("#message-out")
    page.get_by_label("Agent", exact=True).select_option("echo")
    page.get_by_label("Message", exact=True).fill("hello")
    page.get_by_role("button", name="Ask and wait for the reply").click()
    expect(out.locator("pre")).to_have_text("echo: hello")
    screenshot(page, artifacts, "forms")

    page.get_by_label("The message is JSON").check()
    page.get_by_label("Message", exact=True).fill('{"n": [1, 2]}')
    page.get_by_role("button", name="Ask and wait for the reply").click()
    expect(out.locator("pre")).to_have_text('{\n  "n": [\n    1,\n    2\n  ]\n}')

    page.get_by_label("Message", exact=True).fill("{not json")
    page.get_by_role("button", name="Ask and wait for the reply").click()
    expect(out).to_contain_text("The text is not valid JSON")

    page.get_by_label("The message is JSON").uncheck()
    page.get_by_label("Message", exact=True).fill("hello")
    page.get_by_label("Timeout of an ask").fill("99")
    page.get_by_role("button", name="Ask and wait for the reply").click()
    expect(out).to_have_text("The request is not valid (HTTP 422): timeout: at most 30 s")

    page.get_by_label("Timeout of an ask").fill("")
    page.get_by_label("Agent", exact=True).select_option("failing")
    page.get_by_role("button", name="Ask and wait for the reply").click()
    expect(out).to_have_text("The agent failed (HTTP 502): RuntimeError: cannot handle 'hello'")

    page.get_by_label("Agent", exact=True).select_option("echo")
    page.get_by_role("button", name="Tell (no reply)").click()
    expect(out).to_contain_text(re.compile(r"Queued for echo \(message \w+\)\."))

    cancel_out = page.locator("#cancel-out")
    page.get_by_label("Run id").fill("no-such-run")
    page.get_by_role("button", name="Cancel the run").click()
    expect(cancel_out).to_have_text("No such run (HTTP 404): no-such-run")


def test_a_run_diagram_renders_grows_and_is_cancelled(
    console_daemon: DaemonProcess, page: Page, artifacts: Path
) -> None:
    log_in(page, console_daemon.url)
    start_run(page, "shout", "hi")
    expect(page).to_have_url(re.compile(r"/ui/#run/\w+$"))
    expect(page.locator("#run-meta")).to_contain_text("completed")
    diagram = "#run-diagram"
    expect(page.locator(f"{diagram} svg text.messageText").first).to_be_visible()
    assert {"pipeline", "echo", "upper"} <= set(svg_texts(page, diagram, "text.actor"))
    messages = svg_texts(page, diagram, "text.messageText")
    assert messages == ["request: hi", "reply: echo: hi", "request: echo: hi",
                        "reply: ECHO: HI"], messages  # fmt: skip
    expect(page.locator("#run-parts")).to_contain_text("Stages")
    expect(page.locator("#run-result")).to_contain_text("ECHO: HI")
    expect(page.locator("#run-cancel")).to_be_hidden()
    screenshot(page, artifacts, "run-completed")

    # A run that waits on its second stage: the diagram shows it so far, then its cancel.
    start_run(page, "held", "wait for me")
    expect(page.locator("#run-meta")).to_contain_text("running")
    held = page.locator(f"{diagram} svg text.messageText", has_text="request: echo: wait for me")
    expect(held).to_be_visible()  # the second stage's request: drawn while the run goes on
    assert "slow" in svg_texts(page, diagram, "text.actor")
    expect(page.locator("#run-result")).to_contain_text("Partial result so far")
    screenshot(page, artifacts, "run-in-progress")

    page.get_by_role("link", name="Runs").click()
    runs = page.locator("#runs tbody")
    expect(runs.locator("tr").first).to_contain_text("held")
    expect(runs.locator("tr").first).to_contain_text("running")
    screenshot(page, artifacts, "runs")
    runs.locator("tr").first.get_by_role("link").click()

    page.get_by_role("button", name="Cancel this run").click()
    expect(page.locator("#run-meta")).to_contain_text("cancelled")
    expect(page.locator(f"{diagram} svg text.messageText", has_text="cancelled")).to_be_visible()
    expect(page.locator("#run-result")).to_contain_text("Partial result: the run ended cancelled")
    expect(page.locator("#run-cancel")).to_be_hidden()
    screenshot(page, artifacts, "run-cancelled")


def _tab_until(page: Page, element_id: str, limit: int = 60) -> list[str]:
    """Press Tab until ``element_id`` has the focus; every focused element must show it."""
    visited: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(
            """() => { const el = document.activeElement;
                 if (el === document.body) return null;  // between the page and the browser
                 const s = getComputedStyle(el);
                 return { id: el.id || el.textContent.trim(), outline: s.outlineStyle,
                          width: parseFloat(s.outlineWidth) }; }"""
        )
        if focus is None:
            continue
        assert focus["outline"] != "none" and focus["width"] >= 2, focus
        visited.append(focus["id"])
        if focus["id"] == element_id:
            return visited
    raise AssertionError(f"Tab never reached #{element_id}: {visited}")


def test_keyboard_reaches_the_forms_with_visible_focus(
    console_daemon: DaemonProcess, page: Page
) -> None:
    page.goto(f"{console_daemon.url}/ui/")
    expect(page.get_by_label("Token")).to_be_focused()  # the login form takes the focus
    page.keyboard.type(TOKEN)
    page.keyboard.press("Enter")
    expect(page.locator("#connection")).to_have_text("Live")
    visited = _tab_until(page, "Ask, tell, run")
    top = ["Skip to the content", "logout", "Team", "Actors", "Runs", "Dead letters"]
    assert [v for v in visited if v in top] == top, visited
    page.keyboard.press("Enter")
    expect(page.locator("#view-act")).to_be_visible()
    visited = _tab_until(page, "cancel-submit")
    order = ["message-agent", "message-text", "message-json", "message-timeout", "ask", "tell",
             "run-workflow", "run-input", "run-json", "run-start", "cancel-run"]  # fmt: skip
    assert [v for v in visited if v in order] == order, visited


def test_text_contrast_meets_wcag_aa(
    console_daemon: DaemonProcess, page: Page, artifacts: Path
) -> None:
    page.goto(f"{console_daemon.url}/ui/")
    checked = {"login": text_contrast(page)}
    log_in(page, console_daemon.url)
    with console_daemon.client(TOKEN) as http:
        http.post("/v1/agents/failing/tell", json={"message": "x"})  # a dead letter to show
        run = http.post("/v1/workflows/shout/runs", json={"input": "x"}).json()
    for link, view in VIEWS.items():
        page.get_by_role("link", name=link).click()
        expect(page.locator(f"#{view}")).to_be_visible()
        checked[view] = text_contrast(page)
    page.goto(f"{console_daemon.url}/ui/#run/{run['run_id']}")
    expect(page.locator("#run-meta")).to_contain_text("completed")
    checked["run"] = text_contrast(page)
    for view, texts in checked.items():
        assert len(texts) > 3, view
        low = [t for t in texts if t["ratio"] < 4.5]
        assert not low, f"{view}: text below 4.5:1: {low}"


def test_a_vote_shows_its_ballots_and_decision(
    console_daemon: DaemonProcess, page: Page, artifacts: Path
) -> None:
    log_in(page, console_daemon.url)
    start_run(page, "vote", "What do we drink?")
    expect(page.locator("#run-meta")).to_contain_text("completed")
    diagram = "#run-diagram"
    expect(page.locator(f"{diagram} svg text.messageText").first).to_be_visible()
    assert {"consensus", "alice", "bob"} <= set(svg_texts(page, diagram, "text.actor"))
    messages = " ".join(svg_texts(page, diagram, "text.messageText"))
    assert messages.count("vote: round 1: tea (text)") == 2, messages
    votes = page.locator("#run-parts table", has=page.locator("caption", has_text="Votes"))
    expect(votes.locator("tbody tr")).to_have_count(2)
    expect(votes).to_contain_text("tea suits a team best.")
    rounds = page.locator("#run-parts table", has=page.locator("caption", has_text="Vote rounds"))
    expect(rounds).to_contain_text("tea: 2, coffee: 0")
    expect(page.locator("#run-result")).to_contain_text("decision")
    screenshot(page, artifacts, "run-vote")
