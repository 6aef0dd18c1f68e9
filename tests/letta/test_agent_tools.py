"""Unit tests of the LettaAgent building blocks (no server): tools, breaker, rate limit, policy."""

from __future__ import annotations

import socket
import time
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, ValidationError

from letta_actors.letta import (
    ASK_AGENT,
    PUBLISH,
    TELL_AGENT,
    AgentSpec,
    BreakerConfig,
    CircuitBreaker,
    ClientTool,
    LettaCircuitOpen,
    LettaConnection,
    LettaRequestFailed,
    RateLimiter,
    RetryPolicy,
    bus_tools,
    client_tool,
    content_text,
)


class Point(BaseModel):
    x: int
    y: int = 0


@client_tool
def distance(a: Point, b: Point, scale: float = 1.0) -> float:
    """Distance between two points.

    More text that is not part of the description.
    """
    return float(((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5 * scale)


def test_client_tool_schema_from_signature() -> None:
    assert isinstance(distance, ClientTool)
    assert distance.name == "distance"
    assert distance.description == "Distance between two points."
    params = distance.parameters
    assert params["type"] == "object"
    assert params["required"] == ["a", "b"]
    assert set(params["properties"]) == {"a", "b", "scale"}
    assert params["properties"]["scale"]["default"] == 1.0
    assert "title" not in params


def test_client_tool_with_name_and_context() -> None:
    @client_tool(name="lookup", description="Look something up.")
    async def f(ctx: Any, key: str) -> dict[str, str]:
        return {"key": key}

    assert f.name == "lookup"
    assert f.wants_context
    assert set(f.parameters["properties"]) == {"key"}


@pytest.mark.anyio
async def test_client_tool_invoke_validates_and_serialises() -> None:
    ctx: Any = None
    assert await distance.invoke(ctx, {"a": {"x": 3, "y": 4}, "b": {"x": 0}}) == "5.0"
    with pytest.raises(ValidationError):
        await distance.invoke(ctx, {"a": {"x": "nope"}, "b": {"x": 0}})


def test_bus_tools_list_peers_as_enum_and_are_omitted_without_peers() -> None:
    assert bus_tools([], []) == []
    tools = {t.name: t for t in bus_tools(["beta", "gamma"], ["news"])}
    assert set(tools) == {ASK_AGENT, TELL_AGENT, PUBLISH}
    assert tools[ASK_AGENT].parameters["properties"]["peer"]["enum"] == ["beta", "gamma"]
    assert tools[PUBLISH].parameters["properties"]["topic"]["enum"] == ["news"]
    assert {t.name for t in bus_tools([], ["news"])} == {PUBLISH}


def test_agent_spec_needs_id_or_name() -> None:
    with pytest.raises(ValidationError):
        AgentSpec()


def test_breaker_opens_half_opens_and_closes() -> None:
    states: list[str] = []
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2, reset_timeout=0.05), states.append)
    assert breaker.acquire() == 0.0
    breaker.release(ok=False)
    assert breaker.state == "closed"
    assert breaker.acquire() == 0.0
    breaker.release(ok=False)
    assert breaker.state == "open"
    assert breaker.acquire() > 0
    deadline = time.monotonic() + 5
    while breaker.acquire() > 0:  # the probe slot is taken once it half-opens
        assert time.monotonic() < deadline
    assert breaker.state == "half_open"
    assert breaker.acquire() > 0  # only one probe at a time
    breaker.release(ok=False)
    assert breaker.state == "open"
    while breaker.acquire() > 0:
        assert time.monotonic() < deadline
    breaker.release(ok=True)
    assert breaker.state == "closed"
    assert states == ["open", "half_open", "open", "half_open", "closed"]


def test_retry_policy_delays() -> None:
    policy = RetryPolicy(base_delay=1, factor=2, max_delay=5, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]
    assert policy.delay(1, retry_after=3) == 3
    assert RetryPolicy(max_retry_after=2, jitter=0).delay(1, retry_after=30) == 2


@pytest.mark.anyio
async def test_rate_limiter_spaces_requests() -> None:
    limiter = RateLimiter(per_minute=600, burst=2)  # one every 0.1 s, 2 at once
    start = anyio.current_time()
    for _ in range(4):
        await limiter.acquire()
    elapsed = anyio.current_time() - start
    assert 0.15 <= elapsed < 1.0


@pytest.mark.anyio
async def test_connection_retries_then_fails_fast_when_open() -> None:
    with socket.socket() as sock:  # a port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with LettaConnection(
        base_url=f"http://127.0.0.1:{port}",
        connect_timeout=2.0,
        retry=RetryPolicy(max_attempts=3, base_delay=0, jitter=0),
        breaker=BreakerConfig(failure_threshold=3, reset_timeout=60),
    ) as conn:

        async def health(client: Any) -> Any:
            return await client.health()

        with pytest.raises(LettaRequestFailed) as failed:
            await conn.request(health)
        assert failed.value.status == "unreachable"  # never reached: one line, no chained errors
        assert failed.value.attempts == 3
        assert conn.breaker.state == "open"
        assert conn.unreachable_at is not None
        with pytest.raises(LettaCircuitOpen):
            await conn.request(health)


def test_content_text_flattens_letta_and_openai_content() -> None:
    class Part:
        text = "from an object"

    parts = ["plain", Part(), {"type": "text", "text": "from a dict"}, {"type": "image"}, 3]
    assert content_text(parts) == "plain\nfrom an object\nfrom a dict"
    assert content_text(None) == ""
    assert content_text("s") == "s"
    assert content_text(7) == "7"
