"""Issue 13, test 3 (second half): a lone daemon on the embedded store, killed with SIGKILL
with messages queued and a run in progress, started again: it handles what was queued, lists
its past runs, and marks the run that was in progress interrupted."""

from __future__ import annotations

import signal
from pathlib import Path

from ..daemon.conftest import StartDaemon, cli
from ..daemon.helpers import REPO, wait_for


def team(store: Path, blocking: bool) -> str:
    return f"""
[team]
name = "durable-team"
python_path = ["{REPO}"]

[agents.journal]
kind = "python"
factory = "tests.durable.actors:Journal"
args = {{ blocking = {str(blocking).lower()} }}

[agents.echo]
kind = "python"
factory = "tests.daemon.actors:Echo"

[agents.slow]
kind = "python"
factory = "tests.daemon.actors:Slow"
args = {{ delay = 600 }}

[workflows.quick]
kind = "pipeline"
stages = [{{ name = "one", actor = "echo" }}]

[workflows.stuck]
kind = "pipeline"
stages = [{{ name = "one", actor = "slow" }}]

[store]
path = "{store}"

[api]
port = 0
"""


def test_sigkilled_daemon_handles_what_was_queued_when_started_again(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    store = tmp_path / "team.db"
    first = start_daemon(team(store, blocking=True))
    with first.client() as http:
        quick = http.post("/v1/workflows/quick/runs", json={"input": "hi"}).json()["run_id"]
        wait_for(lambda: http.get(f"/v1/runs/{quick}").json()["state"] == "finished")
        stuck = http.post("/v1/workflows/stuck/runs", json={"input": "never"}).json()["run_id"]
        assert http.post("/v1/agents/journal/tell", json={"message": "block"}).status_code == 202

        def blocked() -> bool:
            rows = http.get("/v1/actors").json()
            return any(r["name"] == "journal" and r["working_on"] == "block" for r in rows)

        wait_for(blocked, what="the journal busy on 'block'")
        for i in range(5):  # each 202 comes once the message is stored (so are the runs)
            told = http.post("/v1/agents/journal/tell", json={"message": {"n": i}})
            assert told.status_code == 202 and told.json()["durable"] is True
    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL

    second = start_daemon(team(store, blocking=False))
    with second.client() as http:
        # Stored messages are queued before anything new: the ask comes after them.
        log = http.post("/v1/agents/journal/ask", json={"message": "log"}).json()["reply"]
        # "block" was being handled at the kill: handled again (at-least-once).
        assert log == ["block", *({"n": i} for i in range(5))]
        runs = {r["run_id"]: r for r in http.get("/v1/runs").json()}
        assert runs[quick]["state"] == "finished" and runs[quick]["status"] == "completed"
        assert runs[stuck]["status"] == "interrupted"
        assert "interrupted" in runs[stuck]["error"]
        assert http.get(f"/v1/runs/{quick}").json()["record"]["status"] == "completed"
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    report = second.report()
    assert report["dead_letters"] == {"totals": {}, "letters": []}


def test_a_store_in_use_by_another_daemon_refuses_the_start_in_one_line(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    store = tmp_path / "team.db"
    start_daemon(team(store, blocking=False))
    second = tmp_path / "second.toml"
    second.write_text(team(store, blocking=False))
    refused = cli("run", str(second))
    assert refused.returncode == 2, refused.stderr
    lines = [line for line in refused.stderr.splitlines() if "[store]" in line]
    assert len(lines) == 1 and "in use by another process" in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr
