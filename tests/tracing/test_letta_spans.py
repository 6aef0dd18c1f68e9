"""Letta requests in spans, on the local stack: agent, run id, tokens, retries, breaker state,
and the ``traceparent`` header the Letta server receives."""

from __future__ import annotations

import anyio
import httpx
import pytest
from letta_client import AsyncLetta

from letta_actors import ActorSystem
from letta_actors.letta import LettaAgent, LettaConnection
from letta_actors.localstack import LocalStack, Rule, ScriptedLLMAdmin, TextReply
from letta_actors.localstack.environment import delete_tagged_agents

from ..letta.agent_fixtures import connection_config, marker, spec_for
from .conftest import Traced, parent_of, span_id, trace_id

pytestmark = [pytest.mark.anyio, pytest.mark.letta]


async def test_letta_request_span_and_traceparent(
    letta_stack: LocalStack, scripted_llm: ScriptedLLMAdmin, agent_token: str, traced: Traced
) -> None:
    scripted_llm.set_rules(
        Rule(system_contains=marker(agent_token, "solo"), last_role="user",
             reply=TextReply(text="Hello back"))
    )  # fmt: skip
    sent: list[httpx.Request] = []

    async def keep(request: httpx.Request) -> None:
        sent.append(request)

    http = httpx.AsyncClient(event_hooks={"request": [keep]})
    client = AsyncLetta(base_url=letta_stack.letta_base_url, http_client=http, max_retries=0)
    async with LettaConnection(connection_config(letta_stack), client=client) as conn:
        try:
            async with ActorSystem() as system:
                spans = traced(system)
                spec = spec_for(letta_stack, agent_token, "solo")
                ref = await system.spawn(LettaAgent.factory(spec, conn), name="solo")
                with anyio.fail_after(120):
                    reply = await ref.ask("hi", timeout=120)
                agent_id = reply.agent_id
        finally:
            await delete_tagged_agents(conn, agent_token)
            await http.aclose()
    handled = spans.one("handle solo")
    request = spans.one("letta send message")
    assert parent_of(request) == span_id(handled)
    assert trace_id(request) == trace_id(handled)
    attributes = request.attributes
    assert attributes is not None
    assert attributes["letta_actors.actor"] == "solo"
    assert attributes["letta.agent_id"] == agent_id
    assert str(attributes["letta.run_id"]).startswith("run-")
    assert isinstance(attributes["letta.usage.total_tokens"], int)
    assert attributes["letta.retries"] == 0
    assert attributes["letta.breaker_state"] == "closed"
    assert attributes["letta_actors.outcome"] == "ok"
    # The request the server received carries this span as its parent.
    posted = [r for r in sent if r.method == "POST" and r.url.path.endswith("/messages")]
    assert len(posted) == 1
    assert (
        posted[0]
        .headers["traceparent"]
        .startswith(f"00-{trace_id(request):032x}-{span_id(request):016x}-")
    )
    # The agent's start (find or create) is traced too, under the spawn.
    assert spans.named("letta find agent")
