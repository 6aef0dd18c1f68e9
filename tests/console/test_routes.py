"""The console's data routes in process, on asyncio and Trio: the live snapshot stream, a run's
record and diagram as they grow, dead letters, and the static pages outside the token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from letta_actors.daemon import Team, create_app, parse_config
from letta_actors.daemon.console.routes import live_stream, run_stream

from .helpers import CONSOLE_TEAM, TOKEN

pytestmark = pytest.mark.anyio


@pytest.fixture
async def team() -> AsyncIterator[Team]:
    async with Team(parse_config(CONSOLE_TEAM), env={}) as running:
        yield running


def client(team: Team, token: str | None = TOKEN) -> httpx.AsyncClient:
    app = create_app(team, token=TOKEN)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://daemon", headers=headers
    )


def parse(chunk: bytes) -> tuple[str, dict[str, Any]]:
    event, data = chunk.decode().strip().split("\n")
    return event.removeprefix("event: "), json.loads(data.removeprefix("data: "))


async def test_static_pages_need_no_token_and_data_does(team: Team) -> None:
    async with client(team, token=None) as anonymous, client(team) as http:
        page = await anonymous.get("/ui/")
        assert page.status_code == 200 and "console.js" in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
        assert (
            (await anonymous.get("/ui/api.js"))
            .headers["content-type"]
            .startswith("text/javascript")
        )
        assert (await anonymous.get("/ui/..%2F..%2F__init__.py")).status_code == 404
        assert (await anonymous.get("/v1/console/dead-letters")).status_code == 401
        assert (await http.get("/v1/console/dead-letters")).json()["total"] == 0
        assert (await http.get("/v1/console/runs/nope")).status_code == 404
        assert (await http.get("/v1/console/runs/nope/live")).status_code == 404
        bad = await http.get("/v1/console/live", params={"interval": 0})
        assert bad.status_code == 422
        paths = (await http.get("/openapi.json")).json()["paths"]
        assert "/v1/console/dead-letters" in paths and "/v1/console/runs/{run_id}/live" in paths
        assert "/v1/console/live" not in paths  # endless: kept from schema-driven clients


async def test_live_stream_sends_changes_and_ends_when_the_team_stops(team: Team) -> None:
    stream = live_stream(team, interval=0.05)
    event, first = parse(await anext(stream))
    assert event == "snapshot"
    assert {a["name"] for a in first["actors"]} >= {"root", "desk", "echo", "slow"}
    assert first["runs"] == [] and first["dead_letters"]["total"] == 0
    await team.tell("failing", "boom")  # fails: a dead letter, then a new snapshot
    with anyio.fail_after(10):
        async for chunk in stream:
            if chunk.startswith(b"event: snapshot"):
                _, data = parse(chunk)
                if data["dead_letters"]["total"]:
                    break
    letter = data["dead_letters"]["letters"][0]
    assert letter["recipient"] == "failing" and "cannot handle 'boom'" in letter["error"]
    team.stop_accepting()
    with anyio.fail_after(10):
        rest = [chunk async for chunk in stream]
    assert parse(rest[-1])[0] == "stopping"


async def test_run_stream_grows_then_ends_with_the_cancelled_record(team: Team) -> None:
    entry = team.start_run("held", "wait for me")
    stream = run_stream(entry, interval=0.05)
    with anyio.fail_after(10):
        async for chunk in stream:
            if chunk.startswith(b"event: run"):
                _, view = parse(chunk)
                record = view["record"]
                if record and any(e["target"] == "slow" for e in record["events"]):
                    break
    assert view["state"] == "running" and record["status"] == "running"
    assert "pipeline->>slow: request: echo: wait for me" in view["mermaid"]
    assert view["mermaid"].endswith("running…")
    entry.control.cancel()
    with anyio.fail_after(10):
        rest = [parse(chunk) for chunk in [c async for c in stream]]
    event, final = rest[-1]
    assert event == "run" and final["state"] == "finished" and final["status"] == "cancelled"
    assert final["record"]["status"] == "cancelled"
    assert "cancelled from outside" in final["mermaid"]
    async with client(team) as http:
        again = (await http.get(f"/v1/console/runs/{entry.id}")).json()
    assert again["mermaid"] == final["mermaid"] and again["input"] == "wait for me"
