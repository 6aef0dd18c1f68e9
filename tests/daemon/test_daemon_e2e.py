"""The daemon as a real subprocess: config errors, messages, workflows, metrics, the bearer
token, and SIGTERM with work in flight (all of it answered or reported, exit 0)."""

from __future__ import annotations

import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from .conftest import StartDaemon, cli
from .helpers import ECHO_TEAM, wait_for
from .test_config import BROKEN

TOKEN = "e2e-secret-token-8c41"


def test_invalid_file_exits_2_naming_file_fields_and_problems(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text(BROKEN)
    for command in ("check", "run"):
        result = cli(command, str(config))
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0].startswith(f"{config}: ") and "errors" in lines[0]
        assert (
            f"{config}: agents.a.mailbox.capacity: Input should be greater than or equal to 1"
            in (result.stderr)
        )
        assert f"{config}: links[0].to: unknown agent 'zz'" in result.stderr
        assert len(lines) >= 13  # the summary and every error, in one go
        assert "sk-do-not-write-me" not in result.stderr + result.stdout
    missing = cli("check", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "cannot read the file" in missing.stderr


def test_check_prints_team_and_link_graph(tmp_path: Path) -> None:
    config = tmp_path / "team.toml"
    config.write_text(ECHO_TEAM)
    result = cli("check", str(config))
    assert result.returncode == 0, result.stderr
    assert "echo -> upper" in result.stdout and "supervision tree:" in result.stdout


def test_help_everywhere() -> None:
    for command in ((), ("run",), ("check",), ("send",), ("run-workflow",), ("status",),
                    ("stack",)):  # fmt: skip
        result = cli(*command, "--help")
        assert result.returncode == 0 and "usage: letta-actors" in result.stdout


def test_messages_workflow_metrics_and_clean_stop(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(ECHO_TEAM, "--log-format", "json", "--log-level", "DEBUG")
    env = {"LETTA_ACTORS_URL": daemon.url}
    with daemon.client() as http:
        answer = http.post("/v1/agents/echo/ask", json={"message": "over http"})
        assert answer.status_code == 200 and answer.json()["reply"] == "echo: over http"
        sent = cli("send", "upper", "from the cli", env=env)
        assert sent.returncode == 0 and sent.stdout.strip() == "FROM THE CLI"
        flow = cli("run-workflow", "shout", "hello", "--mermaid", env=env)
        assert flow.returncode == 0, flow.stderr
        assert "completed" in flow.stdout and "output: ECHO: HELLO" in flow.stdout
        assert "sequenceDiagram" in flow.stdout
        status = cli("status", env=env)
        assert status.returncode == 0 and "ready" in status.stdout and "echo" in status.stdout
        metrics = http.get("/metrics").text
        assert 'letta_actors_messages_processed_total{actor="upper",outcome="ok"} 2' in metrics
        assert 'letta_actors_messages_processed_total{actor="echo",outcome="ok"} 2' in metrics
        assert http.get("/openapi.json").json()["info"]["title"] == "letta-actors: test-team"
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    report = daemon.report()
    assert report["forced"] is False and report["abandoned_asks"] == []
    logs = [json.loads(line) for line in daemon.stderr.read_text().splitlines()
            if line.startswith("{")]  # fmt: skip
    asked = [entry for entry in logs if entry["message"].startswith("ask answered")]
    assert asked and {"actor", "message_id", "correlation_id"} <= set(asked[0])


def test_sigterm_with_messages_in_flight_answers_them_all(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(ECHO_TEAM)
    with daemon.client() as http, ThreadPoolExecutor(max_workers=12) as pool:
        told = [http.post("/v1/agents/slow/tell", json={"message": f"t{i}"}) for i in range(4)]
        assert all(r.status_code == 202 for r in told)
        run = http.post("/v1/workflows/slowly/runs", json={"input": "r"}).json()
        asks = [pool.submit(http.post, "/v1/agents/slow/ask", json={"message": i})
                for i in range(8)]  # fmt: skip

        def queued() -> bool:
            rows = http.get("/v1/actors").json()
            return any(r["name"] == "slow" and r["mailbox_depth"] >= 6 for r in rows)

        wait_for(queued, what="asks queued at the slow agent")
        daemon.signal(signal.SIGTERM)
        answers = [future.result(timeout=30) for future in asks]
    assert [a.status_code for a in answers] == [200] * 8
    assert sorted(a.json()["reply"] for a in answers) == list(range(8))
    assert daemon.wait() == 0
    report = daemon.report()
    assert report["runs"] == [] and report["abandoned_asks"] == []  # the run completed too
    assert report["dead_letters"] == {"totals": {}, "letters": []}  # every tell was handled
    assert run["run_id"]


def test_stop_deadline_reports_what_was_not_finished(start_daemon: StartDaemon) -> None:
    text = ECHO_TEAM.replace("shutdown_timeout = 60", "shutdown_timeout = 0.5")
    daemon = start_daemon(text)
    with daemon.client() as http, ThreadPoolExecutor(max_workers=2) as pool:
        told = http.post("/v1/agents/tiny/tell", json={"message": "busy"})
        assert told.status_code == 202 and told.json()["durable"] is False

        def busy() -> bool:
            rows = http.get("/v1/actors").json()
            return any(r["name"] == "tiny" and r["working_on"] == "busy" for r in rows)

        wait_for(busy, what="tiny working")
        pending = pool.submit(http.post, "/v1/agents/tiny/ask", json={"message": "never"})
        wait_for(lambda: http.get("/v1/actors").json()[4]["mailbox_depth"] == 1)
        daemon.signal(signal.SIGTERM)
        answer = pending.result(timeout=30)
    assert answer.status_code == 503 and answer.json()["error"] == "shutting_down"
    assert daemon.wait() == 0
    report = daemon.report()
    abandoned: list[dict[str, str]] = report["abandoned_asks"]  # type: ignore[assignment]
    assert len(abandoned) == 1
    assert {"agent": "tiny", "message": "never"}.items() <= abandoned[0].items()
    letters = report["dead_letters"]["letters"]  # type: ignore[index]
    # The dead letter carries the message_id the API answered the tell with.
    lost = {"recipient": "tiny", "reason": "cancelled", "message": "busy",
            "message_id": told.json()["message_id"]}  # fmt: skip
    assert lost.items() <= letters[0].items()


def test_second_signal_stops_at_once(start_daemon: StartDaemon) -> None:
    # tiny drains within the team's 60 s: the graceful stop would wait for its 30 s message.
    daemon = start_daemon(ECHO_TEAM.replace("shutdown = 0.2\n", ""))
    with daemon.client() as http:
        assert http.post("/v1/agents/tiny/tell", json={"message": "long"}).status_code == 202
        wait_for(lambda: http.get("/v1/actors").json()[4]["working_on"] == "long")
        pending = http.post("/v1/workflows/slowly/runs", json={"input": 1})
        assert pending.status_code == 202
    daemon.signal(signal.SIGTERM)
    # A repeat within a second is the same request; the daemon says when that second is over.
    wait_for(lambda: daemon.logged("further SIGTERM or SIGINT stops at once"), what="the window")
    daemon.signal(signal.SIGINT)
    assert daemon.wait(timeout=10) == 1
    report = daemon.report()
    assert report["forced"] is True
    reasons = report["dead_letters"]["totals"]  # type: ignore[index]
    assert reasons.get("cancelled", 0) >= 1


def test_bearer_token(start_daemon: StartDaemon, tmp_path: Path) -> None:
    exposed = ECHO_TEAM.replace("[api]\n", '[api]\nhost = "0.0.0.0"\n')
    config = tmp_path / "exposed.toml"
    config.write_text(exposed)
    refused = cli("run", str(config), env={"LETTA_ACTORS_API_TOKEN": ""})
    assert refused.returncode == 2 and "LETTA_ACTORS_API_TOKEN" in refused.stderr
    daemon = start_daemon(exposed, env={"LETTA_ACTORS_API_TOKEN": TOKEN})
    url = daemon.url.replace("0.0.0.0", "127.0.0.1")
    with httpx.Client(base_url=url) as http:
        assert http.get("/healthz").status_code == 200
        assert http.post("/v1/agents/echo/ask", json={"message": "x"}).status_code == 401
        assert http.get("/metrics").status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert http.post("/v1/agents/echo/ask", json={"message": "x"}, headers=auth).is_success
    sent = cli("send", "echo", "hi", env={"LETTA_ACTORS_URL": url, "LETTA_ACTORS_API_TOKEN": TOKEN})
    assert sent.returncode == 0 and sent.stdout.strip() == "echo: hi"
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert TOKEN not in daemon.stderr.read_text() + daemon.stdout.read_text()


def test_run_reports_bad_factories_as_check_does(tmp_path: Path) -> None:
    broken = ECHO_TEAM + (
        '\n[agents.ghost]\nkind = "python"\nfactory = "tests.daemon.no_such_module:Actor"\n'
        '\n[agents.misfit]\nkind = "python"\nfactory = "tests.daemon.actors:Upper"\n'
        "args = { unexpected = 1 }\n"
    )
    config = tmp_path / "team.toml"
    config.write_text(broken)
    for command in ("check", "run"):
        result = cli(command, str(config))
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.splitlines()[0] == f"{config}: 2 errors", result.stderr
        assert f"{config}: agents.ghost.factory: cannot import" in result.stderr
        assert f"{config}: agents.misfit.args: args do not fit" in result.stderr
        assert "Traceback" not in result.stderr
