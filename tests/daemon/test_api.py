"""The HTTP API in process (httpx over ASGI), on asyncio and Trio: every status it promises."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from letta_actors.daemon import Team, create_app, parse_config

from ..helpers import wait_until
from .helpers import ECHO_TEAM

pytestmark = pytest.mark.anyio

TOKEN = "test-token-5d1f"


@pytest.fixture
async def team() -> AsyncIterator[Team]:
    async with Team(parse_config(ECHO_TEAM), env={}) as running:
        yield running


def client_for(team: Team, token: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(team, token=token))
    return httpx.AsyncClient(transport=transport, base_url="http://daemon")


async def poll(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Await ``check()`` until it returns something truthy, at most ``timeout`` seconds."""
    return await wait_until(check, timeout=timeout)


async def test_ask(team: Team) -> None:
    async with client_for(team) as client:
        response = await client.post(
            "/v1/agents/echo/ask",
            json={"message": "hi", "timeout": 5},
            headers={"X-Correlation-ID": "corr-1"},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["reply"] == "echo: hi" and body["text"] == "echo: hi"
        assert body["correlation_id"] == "corr-1" and body["message_id"]
        structured = await client.post("/v1/agents/echo/ask", json={"message": {"a": [1, 2]}})
        assert structured.json()["reply"] == {"a": [1, 2]}


async def test_errors(team: Team) -> None:
    async with client_for(team) as client:
        unknown = await client.post("/v1/agents/nobody/ask", json={"message": "x"})
        assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_agent"
        for bad in ({}, {"message": "x", "timeout": -1}, {"message": "x", "extra": 1},
                    {"message": "x", "timeout": 1e9}, {"message": "x", "timeout": True},
                    {"message": "x", "timeout": "5"}):  # fmt: skip
            response = await client.post("/v1/agents/echo/ask", json=bad)
            assert response.status_code == 422, bad
            assert response.json()["error"] == "invalid_request"
        not_json = await client.post("/v1/agents/echo/ask", content=b"{nope")
        assert not_json.status_code == 422
        nan = await client.post(
            "/v1/agents/echo/ask",
            content=b'{"message": [NaN]}',
            headers={"content-type": "application/json"},
        )
        assert nan.status_code == 422
        big = await client.post("/v1/agents/echo/ask", json={"message": "x" * 5000})
        assert big.status_code == 413 and big.json()["error"] == "body_too_large"
        failed = await client.post("/v1/agents/failing/ask", json={"message": "x"})
        assert failed.status_code == 502 and "RuntimeError" in failed.json()["detail"]
        timed_out = await client.post("/v1/agents/slow/ask", json={"message": 1, "timeout": 0.01})
        assert timed_out.status_code == 504
        no_run = await client.get("/v1/runs/nope")
        assert no_run.status_code == 404
        no_flow = await client.post("/v1/workflows/nope/runs", json={"input": "x"})
        assert no_flow.status_code == 404


async def test_mailbox_full_is_503_with_retry_after(team: Team) -> None:
    async with client_for(team) as client:
        first = await client.post("/v1/agents/tiny/tell", json={"message": "busy"})
        assert first.status_code == 202

        async def busy() -> bool:
            rows = (await client.get("/v1/actors")).json()
            return any(r["name"] == "tiny" and r["working_on"] == "busy" for r in rows)

        await poll(busy)
        queued = await client.post("/v1/agents/tiny/tell", json={"message": "queued"})
        assert queued.status_code == 202
        full = await client.post("/v1/agents/tiny/ask", json={"message": "one more"})
        assert full.status_code == 503
        assert full.headers["retry-after"] == "1" and full.json()["error"] == "mailbox_full"


async def test_workflow_run_poll_and_stream(team: Team) -> None:
    async with client_for(team) as client:
        started = await client.post("/v1/workflows/shout/runs", json={"input": "hello"})
        assert started.status_code == 202
        run_id = started.json()["run_id"]
        assert started.headers["location"] == f"/v1/runs/{run_id}"

        async def finished() -> Any:
            run = (await client.get(f"/v1/runs/{run_id}")).json()
            return run if run["state"] == "finished" else None

        run = await poll(finished)
        assert run["status"] == "completed"
        assert run["record"]["output"] == "ECHO: HELLO"
        assert run["mermaid"].startswith("sequenceDiagram")

        slow = (await client.post("/v1/workflows/slowly/runs", json={"input": 7})).json()
        events: list[tuple[str, Any]] = []
        url = f"/v1/runs/{slow['run_id']}/events"
        async with client.stream("GET", url, params={"interval": 0.05}) as stream:
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    events.append((event, json.loads(line[6:])))
        kinds = [kind for kind, _ in events]
        assert kinds[-1] == "record" and "progress" in kinds
        assert any(data.get("working", {}).get("slow") == "7" for _, data in events)
        assert events[-1][1]["record"]["output"] == 7

        fan = (await client.post("/v1/workflows/both/runs", json={"input": "x"})).json()
        done = await poll(lambda: _finished(client, fan["run_id"]))
        answers = {r["id"]: r["answer"] for r in done["record"]["results"]}
        assert answers == {"a": "echo: x", "b": "SAY X"}


async def _finished(client: httpx.AsyncClient, run_id: str) -> Any:
    run = (await client.get(f"/v1/runs/{run_id}")).json()
    return run if run["state"] == "finished" else None


async def test_cancel_a_run(team: Team) -> None:
    async with client_for(team) as client:
        run = (await client.post("/v1/workflows/slowly/runs", json={"input": 1})).json()
        cancelled = await client.post(f"/v1/runs/{run['run_id']}/cancel")
        assert cancelled.status_code == 202
        done = await poll(lambda: _finished(client, run["run_id"]))
        assert done["status"] == "cancelled"


async def test_probes_actors_metrics(team: Team) -> None:
    async with client_for(team) as client:
        assert (await client.get("/healthz")).json() == {"status": "alive"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        await client.post("/v1/agents/echo/ask", json={"message": "m"})
        rows = {r["name"]: r for r in (await client.get("/v1/actors")).json()}
        assert rows["echo"]["state"] == "running" and rows["echo"]["processed"] == 1
        assert rows["tiny"]["mailbox_capacity"] == 1 and rows["root"]["kind"] == "supervisor"
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert 'letta_actors_messages_processed_total{actor="echo",outcome="ok"} 1\n' in (
            metrics.text
        )
        schema = (await client.get("/openapi.json")).json()
        assert "/v1/agents/{agent}/ask" in schema["paths"]


async def test_bearer_token(team: Team) -> None:
    async with client_for(team, token=TOKEN) as client:
        assert (await client.get("/healthz")).status_code == 200
        missing = await client.post("/v1/agents/echo/ask", json={"message": "x"})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = await client.get("/v1/actors", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert (await client.get("/metrics")).status_code == 401
        good = await client.post(
            "/v1/agents/echo/ask",
            json={"message": "x"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert good.status_code == 200


async def test_stopping_refuses_new_work(team: Team) -> None:
    async with client_for(team) as client:
        team.stop_accepting()
        refused = await client.post("/v1/agents/echo/ask", json={"message": "late"})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert (await client.post("/v1/workflows/shout/runs", json={"input": 1})).status_code == 503
        assert (await client.get("/readyz")).status_code == 503
        assert team.unfinished()["refused_at_stop"] == 2


async def test_lone_surrogates_are_refused_and_nothing_stored_breaks(team: Team) -> None:
    json_type = {"content-type": "application/json"}
    async with client_for(team) as client:
        for path, field in (("/v1/agents/echo/ask", "message"), ("/v1/agents/echo/tell", "message"),
                            ("/v1/workflows/shout/runs", "input")):  # fmt: skip
            body = b'{"%s": {"\\udc00": ["\\ud800"]}}' % field.encode()
            refused = await client.post(path, content=body, headers=json_type)
            assert refused.status_code == 422, path
            assert refused.json()["error"] == "invalid_request"
        assert (await client.get("/v1/runs")).json() == []  # no run was started


async def test_one_error_shape_everywhere(team: Team) -> None:
    json_type = {"content-type": "application/json"}
    async with client_for(team) as client:
        answers = [
            await client.post("/v1/agents/echo/ask", content=b"\xff\xfe", headers=json_type),
            await client.post(
                "/v1/agents/echo/ask",
                content=b'{"message": ' + b"[" * 2000 + b"]" * 2000 + b"}",
                headers=json_type,
            ),
            await client.get("/no/such/path"),
            await client.delete("/v1/team"),
            await client.get("/v1/runs/x/events", params={"interval": "0"}),
        ]
        for answer in answers:
            assert answer.status_code in (400, 404, 405, 422), answer.text
            assert set(answer.json()) == {"error", "detail"}, answer.text


async def test_openapi_declares_errors_security_and_bounds(team: Team) -> None:
    async with client_for(team, token=TOKEN) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        schema = (await client.get("/openapi.json", headers=headers)).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    ask = schema["paths"]["/v1/agents/{agent}/ask"]["post"]
    assert {"400", "401", "413", "422", "503"} <= set(ask["responses"])
    assert ask["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]
    timeout = schema["components"]["schemas"]["AskRequest"]["properties"]["timeout"]
    assert {"type": "number", "exclusiveMinimum": 0, "maximum": 30} in timeout["anyOf"]
    events = schema["paths"]["/v1/runs/{run_id}/events"]["get"]
    assert list(events["responses"]["200"]["content"]) == ["text/event-stream"]
    [interval] = [p for p in events["parameters"] if p["name"] == "interval"]
    assert interval["schema"]["minimum"] == 0.05 and interval["schema"]["maximum"] == 60


async def test_token_is_checked_before_reading_the_body(team: Team) -> None:
    app = create_app(team, token=TOKEN)
    read: list[object] = []
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        read.append(1)
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/agents/echo/tell",
             "headers": [(b"content-length", b"2")], "query_string": b""}  # fmt: skip
    await app(scope, receive, send)
    assert sent[0]["status"] == 401 and read == []
