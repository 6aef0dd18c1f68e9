"""Stopping a real daemon: the metrics listener stops with it, a repeated signal is one request,
the team's drain budget applies, and the Trio backend stops as gracefully as asyncio."""

from __future__ import annotations

import signal

import httpx
import pytest

from .conftest import StartDaemon
from .helpers import ECHO_TEAM, wait_for

METRICS_PORT = ECHO_TEAM + "\n[metrics]\nport = 0\n"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sigterm_stops_the_metrics_listener_too(start_daemon: StartDaemon, backend: str) -> None:
    daemon = start_daemon(METRICS_PORT, *(("--backend", backend) if backend == "trio" else ()))
    assert daemon.metrics_url is not None
    with httpx.Client() as http:
        assert http.post(f"{daemon.url}/v1/agents/echo/ask", json={"message": "x"}).is_success
        scraped = http.get(daemon.metrics_url)
        assert scraped.status_code == 200 and "letta_actors_messages_received_total" in scraped.text
        assert http.get(daemon.metrics_url.replace("/metrics", "/other")).status_code == 404
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    report = daemon.report()
    assert report["forced"] is False and report["dead_letters"] == {"totals": {}, "letters": []}


def test_a_repeated_signal_within_a_second_is_the_same_request(
    start_daemon: StartDaemon,
) -> None:
    daemon = start_daemon(ECHO_TEAM)
    with daemon.client() as http:
        for i in range(4):  # 1.2 s of work queued: the stop is still draining at the repeat
            assert http.post("/v1/agents/slow/tell", json={"message": i}).status_code == 202
    daemon.signal(signal.SIGTERM)
    wait_for(lambda: daemon.logged("SIGTERM: stopping"), what="the first signal handled")
    daemon.signal(signal.SIGTERM)  # a moment later, as a process-group kill gives
    assert daemon.wait() == 0
    report = daemon.report()
    assert report["forced"] is False
    assert report["dead_letters"] == {"totals": {}, "letters": []}  # all four handled
    assert daemon.logged("SIGTERM again: the same stop request")


def test_each_agent_drains_within_the_teams_shutdown_timeout(start_daemon: StartDaemon) -> None:
    # Sluggish's class gives it 0.2 s to drain; the team file promises 60 s to every agent.
    # 10 messages of 0.5 s: seconds of work still queued when the stop begins.
    text = ECHO_TEAM + (
        '\n[agents.sluggish]\nkind = "python"\nfactory = "tests.daemon.actors:Sluggish"\n'
        "args = { delay = 0.5 }\nmailbox = { capacity = 100 }\n"
    )
    daemon = start_daemon(text)
    with daemon.client() as http:
        told = [http.post("/v1/agents/sluggish/tell", json={"message": i}) for i in range(10)]
        assert all(r.status_code == 202 for r in told)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert daemon.report()["dead_letters"] == {"totals": {}, "letters": []}


def test_sigterm_on_trio_answers_work_in_flight(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(ECHO_TEAM, "--backend", "trio")
    with daemon.client() as http:
        assert http.post("/v1/agents/echo/ask", json={"message": "hi"}).json()["reply"] == (
            "echo: hi"
        )
        assert http.post("/v1/agents/slow/tell", json={"message": 1}).status_code == 202
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    assert daemon.report()["dead_letters"] == {"totals": {}, "letters": []}
