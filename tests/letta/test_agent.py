"""LettaAgent against the real Letta server: find-or-create, round trip, bus tools, cycles."""

from __future__ import annotations

import anyio
import pytest

from letta_actors import ActorSystem
from letta_actors.letta import (
    ASK_AGENT,
    AgentOptions,
    AgentReply,
    AgentSpec,
    LettaAgent,
    LettaConnection,
    LettaStats,
)
from letta_actors.localstack import LocalStack, Rule, ScriptedLLMAdmin, TextReply, ToolCall
from letta_actors.localstack import ToolCallsReply as Calls

from .agent_fixtures import letta_conn, marker, spec_for

pytestmark = [pytest.mark.anyio, pytest.mark.letta]
__all__ = ["letta_conn"]


async def test_find_or_create_is_idempotent(
    letta_conn: LettaConnection, letta_stack: LocalStack, agent_token: str
) -> None:
    spec = spec_for(letta_stack, agent_token, "alpha")
    async with ActorSystem() as system:
        ref = await system.spawn(LettaAgent.factory(spec, letta_conn), name="alpha")
        first = system.cell("alpha")
        assert first is not None
        assert isinstance(first.instance, LettaAgent)
        agent_id = first.instance.agent_id
        # A restart (new instance, on_start again) and a second actor on the same spec.
        await system.supervisor().restart_child("alpha")
        again = system.cell("alpha")
        assert again is not None
        assert isinstance(again.instance, LettaAgent)
        assert again.instance.agent_id == agent_id
        await system.spawn(LettaAgent.factory(spec, letta_conn), name="alpha-2")
        twin = system.cell("alpha-2")
        assert twin is not None
        assert isinstance(twin.instance, LettaAgent)
        assert twin.instance.agent_id == agent_id
        # Attach by id.
        by_id = AgentSpec(agent_id=agent_id)
        await system.spawn(LettaAgent.factory(by_id, letta_conn), name="alpha-by-id")
        attached = system.cell("alpha-by-id")
        assert attached is not None
        assert isinstance(attached.instance, LettaAgent)
        assert attached.instance.agent_id == agent_id
        assert ref.name == "alpha"
    named = [a async for a in letta_conn.client.agents.list(name=spec.name)]
    assert [a.id for a in named] == [agent_id]
    tagged = letta_conn.client.agents.list(tags=["letta-actors", agent_token], match_all_tags=True)
    assert [a.id async for a in tagged] == [agent_id]


async def test_message_round_trip(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    scripted_llm.set_rules(
        Rule(
            system_contains=marker(agent_token, "alpha"),
            last_role="user",
            reply=TextReply(text="Hello back: {last_message}"),
        )
    )
    spec = spec_for(letta_stack, agent_token, "alpha")
    async with ActorSystem() as system:
        ref = await system.spawn(LettaAgent.factory(spec, letta_conn), name="alpha")
        with anyio.fail_after(60):
            reply = await ref.ask("hi there", timeout=60)
        assert isinstance(reply, AgentReply)
        assert reply.text == "Hello back: hi there"
        assert reply.messages == ["Hello back: hi there"]
        assert reply.stop_reason == "end_turn"
        assert reply.usage.prompt_tokens > 0
        assert reply.usage.completion_tokens > 0
        assert reply.usage.steps == 1
        assert reply.run_ids
        assert reply.rounds == 1
        assert reply.latency > 0
        assert not reply.recovered
        stats = system.cell("alpha")
        assert stats is not None
        letta = LettaStats.of(stats.stats)
        assert letta is not None
        assert letta.requests["ok"] >= 1
        assert letta.prompt_tokens == reply.usage.prompt_tokens
        assert letta.steps == 1
        assert letta.duration.count >= 1
        assert letta.server == letta_stack.letta_base_url
        assert letta.breaker_state == "closed"
        agent_id = reply.agent_id
        # A pydantic model is rendered as JSON.
        second = await ref.ask(AgentSpec(agent_id="x"), timeout=60)
        assert '"agent_id":"x"' in second.text
    history = await letta_conn.client.agents.messages.list(agent_id, limit=20, order="desc")
    sent = [m for m in history.items if m.message_type == "user_message" and m.otid == reply.otid]
    assert len(sent) == 1


async def test_bus_tool_round_trip(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    a, b = marker(agent_token, "alpha"), marker(agent_token, "beta")
    scripted_llm.set_rules(
        [
            Rule(
                system_contains=a,
                last_role="user",
                tool_offered=ASK_AGENT,
                reply=Calls(
                    calls=[
                        ToolCall(
                            name=ASK_AGENT,
                            arguments={"peer": "beta", "message": "What is the secret?"},
                        )
                    ]
                ),
            ),
            Rule(
                system_contains=a,
                last_role="tool",
                reply=TextReply(text="Beta says: {last_message_text}"),
            ),
            Rule(
                system_contains=b,
                last_role="user",
                reply=TextReply(text="The secret is 42 ({last_message})"),
            ),
        ]
    )
    async with ActorSystem(enforce_links=True) as system:
        await system.spawn(
            LettaAgent.factory(spec_for(letta_stack, agent_token, "beta"), letta_conn), name="beta"
        )
        alpha = await system.spawn(
            LettaAgent.factory(spec_for(letta_stack, agent_token, "alpha"), letta_conn),
            name="alpha",
        )
        system.bus.link("alpha", "beta")
        with anyio.fail_after(90):
            reply = await alpha.ask("Find out the secret.", timeout=90)
        assert isinstance(reply, AgentReply)
        assert reply.text == "Beta says: The secret is 42 (What is the secret?)"
        [call] = reply.tool_calls
        assert call.name == ASK_AGENT
        assert call.side == "client"
        assert call.status == "success"
        assert call.arguments == {"peer": "beta", "message": "What is the secret?"}
        assert call.result == "The secret is 42 (What is the secret?)"
        assert reply.rounds == 2
        cell = system.cell("alpha")
        assert cell is not None
        letta = LettaStats.of(cell.stats)
        assert letta is not None
        assert letta.tool_calls[ASK_AGENT] == 1
    # The offered schema listed the linked peer as an enum.
    offered = [r for r in scripted_llm.requests(include_body=True) if r.view and a in r.view.system]
    assert offered
    body = offered[0].body
    [tool] = [t for t in body["tools"] if t["function"]["name"] == ASK_AGENT]
    assert tool["function"]["parameters"]["properties"]["peer"]["enum"] == ["beta"]


async def test_ask_cycle_becomes_a_tool_error(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    a, b = marker(agent_token, "alpha"), marker(agent_token, "beta")
    scripted_llm.set_rules(
        [
            Rule(
                system_contains=a,
                last_role="user",
                reply=Calls(
                    calls=[ToolCall(name=ASK_AGENT, arguments={"peer": "beta", "message": "ping"})]
                ),
            ),
            Rule(
                system_contains=a,
                last_role="tool",
                reply=TextReply(text="A got: {last_message_text}"),
            ),
            Rule(
                system_contains=b,
                last_role="user",
                reply=Calls(
                    calls=[
                        ToolCall(name=ASK_AGENT, arguments={"peer": "alpha", "message": "pong?"})
                    ]
                ),
            ),
            Rule(
                system_contains=b,
                last_role="tool",
                reply=TextReply(text="B saw: {last_message_text}"),
            ),
        ]
    )
    async with ActorSystem(enforce_links=True) as system:
        for role in ("alpha", "beta"):
            await system.spawn(
                LettaAgent.factory(spec_for(letta_stack, agent_token, role), letta_conn), name=role
            )
        system.bus.link("alpha", "beta")
        with anyio.fail_after(90):
            reply = await system.ref("alpha").ask("start", timeout=90)
    assert isinstance(reply, AgentReply)
    assert reply.text.startswith("A got: B saw: ask_agent failed: AskCycle:")
    assert "deadlock" in reply.text
    assert "alpha -> beta -> alpha" in reply.text


async def test_ask_depth_is_capped(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    a, b = marker(agent_token, "alpha"), marker(agent_token, "beta")
    scripted_llm.set_rules(
        [
            Rule(
                system_contains=a,
                last_role="user",
                reply=Calls(
                    calls=[ToolCall(name=ASK_AGENT, arguments={"peer": "beta", "message": "go"})]
                ),
            ),
            Rule(
                system_contains=a, last_role="tool", reply=TextReply(text="A: {last_message_text}")
            ),
            Rule(
                system_contains=b,
                last_role="user",
                reply=Calls(
                    calls=[
                        ToolCall(name=ASK_AGENT, arguments={"peer": "gamma", "message": "deeper"})
                    ]
                ),
            ),
            Rule(
                system_contains=b, last_role="tool", reply=TextReply(text="B: {last_message_text}")
            ),
        ]
    )
    options = AgentOptions(max_ask_depth=1)
    async with ActorSystem() as system:
        for role in ("alpha", "beta", "gamma"):
            spec = spec_for(letta_stack, agent_token, role)
            await system.spawn(LettaAgent.factory(spec, letta_conn, options=options), name=role)
        system.bus.link("alpha", "beta")
        system.bus.link("beta", "gamma")
        with anyio.fail_after(90):
            reply = await system.ref("alpha").ask("start", timeout=90)
    assert reply.text == ("A: B: refused: asking 'gamma' would nest agent calls 2 deep (limit 1)")
