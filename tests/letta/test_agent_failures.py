"""LettaAgent failure handling against the real Letta server: restarts with a pending
approval, the in-flight limit, 429s, and the Letta server killed mid-request."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
import pytest

from letta_actors import ActorSystem
from letta_actors.errors import ActorStopped
from letta_actors.letta import (
    RESTART_REASON,
    AgentReply,
    LettaAgent,
    LettaConnection,
    LettaRequestFailed,
    LettaStats,
    client_tool,
)
from letta_actors.localstack import (
    AsyncScriptedLLMAdmin,
    LocalStack,
    RateLimitReply,
    Rule,
    ScriptedLLMAdmin,
    TextReply,
    ToolCall,
    ToolCallsReply,
)
from letta_actors.localstack.environment import delete_tagged_agents

from .agent_fixtures import connection_config, letta_conn, marker, spec_for

pytestmark = [pytest.mark.anyio, pytest.mark.letta]
__all__ = ["letta_conn"]


async def user_messages(conn: LettaConnection, agent_id: str, text: str) -> list[Any]:
    page = await conn.client.agents.messages.list(agent_id, limit=100, order="desc")
    return [m for m in page.items if m.message_type == "user_message" and m.content == text]


async def test_restart_settles_a_pending_approval(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    a = marker(agent_token, "alpha")
    scripted_llm.set_rules(
        [
            Rule(
                system_contains=a,
                last_role="user",
                last_message_contains="hang",
                reply=ToolCallsReply(calls=[ToolCall(name="hang", arguments={"why": "test"})]),
            ),
            Rule(
                system_contains=a,
                last_role="tool",
                reply=TextReply(text="tool said: {last_message_text}"),
            ),
            Rule(system_contains=a, last_role="user", reply=TextReply(text="fine: {last_message}")),
        ]
    )
    entered = anyio.Event()

    @client_tool
    async def hang(why: str) -> str:
        """Never returns (the actor is restarted while it runs)."""
        entered.set()
        await anyio.sleep_forever()
        return why

    spec = spec_for(letta_stack, agent_token, "alpha")
    failures: list[BaseException] = []
    async with ActorSystem() as system:
        ref = await system.spawn(
            LettaAgent.factory(spec, letta_conn, tools=[hang]), name="alpha", shutdown=0.5
        )

        async def ask_hang() -> None:
            try:
                await ref.ask("please hang", timeout=60)
            except ActorStopped as exc:
                failures.append(exc)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(ask_hang)
                await entered.wait()
                cell = system.cell("alpha")
                assert cell is not None
                old = cell.instance
                assert isinstance(old, LettaAgent)
                assert await old.pending_tool_calls()  # the agent waits for the tool
                await system.supervisor().restart_child("alpha")
            assert len(failures) == 1
            assert cell is not None
            new = cell.instance
            assert isinstance(new, LettaAgent)
            assert new is not old
            assert new.settled_on_start == 1
            assert await new.pending_tool_calls() == []
            reply = await ref.ask("hello again", timeout=60)
        assert isinstance(reply, AgentReply)
        assert reply.text == "fine: hello again"
        agent_id = new.agent_id
    history = await letta_conn.client.agents.messages.list(agent_id, limit=50, order="desc")
    returns = [m for m in history.items if m.message_type == "tool_return_message"]
    assert [(m.status, m.tool_return) for m in returns] == [("error", RESTART_REASON)]


async def test_pending_approval_left_by_an_abandoned_ask_is_settled(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    a = marker(agent_token, "alpha")
    scripted_llm.set_rules(
        [
            Rule(
                system_contains=a,
                last_role="user",
                last_message_contains="hang",
                reply=ToolCallsReply(calls=[ToolCall(name="hang", arguments={})]),
            ),
            Rule(
                system_contains=a,
                last_role="tool",
                reply=TextReply(text="tool said: {last_message_text}"),
            ),
            Rule(system_contains=a, last_role="user", reply=TextReply(text="fine: {last_message}")),
        ]
    )
    entered = anyio.Event()

    @client_tool
    async def hang() -> str:
        """Never returns."""
        entered.set()
        await anyio.sleep_forever()
        return ""

    spec = spec_for(letta_stack, agent_token, "alpha")
    async with ActorSystem() as system:
        ref = await system.spawn(LettaAgent.factory(spec, letta_conn, tools=[hang]), name="alpha")
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: ref.ask("hang please", timeout=60))
                await entered.wait()
                tg.cancel_scope.cancel()  # the asker gives up: the handling is cancelled
            reply = await ref.ask("next one", timeout=60)
        assert reply.text == "fine: next one"
        cell = system.cell("alpha")
        assert cell is not None
        assert cell.stats.cancelled == 1
        letta = LettaStats.of(cell.stats)
        assert letta is not None
        assert letta.requests["pending_approval"] == 1


async def test_in_flight_limit_holds(
    letta_stack: LocalStack, agent_token: str, scripted_llm: ScriptedLLMAdmin
) -> None:
    scripted_llm.set_rules(
        Rule(system_contains=agent_token, latency_seconds=0.5, reply=TextReply(text="ok"))
    )
    roles = [f"agent{i}" for i in range(6)]
    config = connection_config(letta_stack, max_in_flight=2)
    async with LettaConnection(config) as conn:
        try:
            async with ActorSystem() as system:
                for role in roles:
                    spec = spec_for(letta_stack, agent_token, role)
                    await system.spawn(LettaAgent.factory(spec, conn), name=role)
                scripted_llm.reset()
                replies: dict[str, AgentReply] = {}

                async def ask(role: str) -> None:
                    replies[role] = await system.ref(role).ask("go", timeout=120)

                with anyio.fail_after(120):
                    async with anyio.create_task_group() as tg:
                        for role in roles:
                            tg.start_soon(ask, role)
            assert [replies[r].text for r in roles] == ["ok"] * 6
            assert conn.peak_in_flight == 2
            assert scripted_llm.stats().peak_in_flight == 2
        finally:
            await delete_tagged_agents(conn, agent_token)


async def test_rate_limited_requests_are_retried(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    a = marker(agent_token, "alpha")
    # Letta retries the LLM itself (3 tries), then answers 429: the first request fails.
    scripted_llm.set_rules(
        [
            Rule(system_contains=a, times=3, reply=RateLimitReply(retry_after=0)),
            Rule(system_contains=a, reply=TextReply(text="finally: {last_message}")),
        ]
    )
    spec = spec_for(letta_stack, agent_token, "alpha")
    async with ActorSystem() as system:
        ref = await system.spawn(LettaAgent.factory(spec, letta_conn), name="alpha")
        with anyio.fail_after(90):
            reply = await ref.ask("rate me", timeout=90)
        assert reply.text == "finally: rate me"
        cell = system.cell("alpha")
        assert cell is not None
        letta = LettaStats.of(cell.stats)
        assert letta is not None
        assert letta.requests["rate_limited"] == 1
        assert letta.breaker_state == "closed"
    assert len(await user_messages(letta_conn, reply.agent_id, "rate me")) == 1


async def test_client_errors_reach_the_asker_typed(
    letta_conn: LettaConnection, letta_stack: LocalStack, agent_token: str
) -> None:
    spec = spec_for(letta_stack, agent_token, "alpha")
    async with ActorSystem() as system:
        ref = await system.spawn(LettaAgent.factory(spec, letta_conn), name="alpha")
        cell = system.cell("alpha")
        assert cell is not None
        agent = cell.instance
        assert isinstance(agent, LettaAgent)
        await letta_conn.client.agents.delete(agent.agent_id)  # pulled from under the actor
        with pytest.raises(LettaRequestFailed) as failed:
            await ref.ask("anyone?", timeout=60)
        assert failed.value.status == "client_error"
        assert failed.value.status_code == 404
        assert failed.value.attempts == 1
        assert cell.instance is agent  # no restart: restart_on_error is False


async def test_letta_server_killed_mid_request(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    if letta_stack.letta.reused:
        pytest.fail("the Letta server was started outside this session: stop it to run this test")
    a = marker(agent_token, "alpha")
    scripted_llm.set_rules(
        [
            Rule(
                system_contains=a,
                last_message_contains="slow",
                times=1,
                latency_seconds=120,
                reply=TextReply(text="too late"),
            ),
            Rule(system_contains=a, reply=TextReply(text="back: {last_message}")),
        ]
    )
    spec = spec_for(letta_stack, agent_token, "alpha")
    async with ActorSystem(ask_timeout=240) as system:
        ref = await system.spawn(LettaAgent.factory(spec, letta_conn), name="alpha")
        replies: list[AgentReply] = []

        async def ask_slow() -> None:
            replies.append(await ref.ask("slow one", timeout=240))

        async with AsyncScriptedLLMAdmin(letta_stack.llm_root_url) as admin:
            with anyio.fail_after(240):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(ask_slow)
                    assert (await admin.wait(in_flight_at_least=1, wait_seconds=30)).satisfied
                    await anyio.to_thread.run_sync(letta_stack.letta.kill)
                    await anyio.to_thread.run_sync(letta_stack.letta.restart)
        [reply] = replies
        assert reply.text == "back: slow one"
        cell = system.cell("alpha")
        assert cell is not None
        letta = LettaStats.of(cell.stats)
        assert letta is not None
        assert letta.requests["connection_error"] >= 1
        assert letta_conn.breaker.opened >= 1
        assert letta.breaker_state == "closed"
        after = await ref.ask("after restart", timeout=60)
        assert after.text == "back: after restart"
    # Delivered exactly once, with the otid it was first sent with.
    [sent] = await user_messages(letta_conn, reply.agent_id, "slow one")
    assert sent.otid == reply.otid
