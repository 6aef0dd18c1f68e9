"""End-to-end tests against a real Letta 0.16.8 server driven by the scripted LLM."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread
import pytest
from letta_client import APIError, AsyncLetta, ConflictError
from letta_client.types.agents.message_create_params import ClientTool

from letta_actors.localstack import (
    AsyncScriptedLLMAdmin,
    LocalStack,
    Rule,
    ScriptedLLMAdmin,
    TextReply,
    ToolCall,
    ToolCallsReply,
)

pytestmark = [pytest.mark.anyio, pytest.mark.letta]

WEATHER_TOOL: ClientTool = {
    "name": "get_weather",
    "description": "Get the weather of a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
async def client(letta_stack: LocalStack) -> AsyncIterator[AsyncLetta]:
    async with AsyncLetta(base_url=letta_stack.letta_base_url, max_retries=0) as letta:
        yield letta


@pytest.fixture
async def agent_id(
    client: AsyncLetta, letta_stack: LocalStack, agent_token: str
) -> AsyncIterator[str]:
    agent = await client.agents.create(
        name=f"test-{agent_token}",
        model=letta_stack.model_handle,
        embedding=letta_stack.embedding_handle,
        system=f"You are a test agent. Marker: {agent_token}",
        memory_blocks=[{"label": "persona", "value": "A scripted test agent."}],
    )
    yield agent.id
    await client.agents.delete(agent.id)


def types_of(messages: list[Any]) -> list[str]:
    return [m.message_type for m in messages]


async def test_user_message_round_trip(
    client: AsyncLetta, agent_id: str, agent_token: str, scripted_llm: ScriptedLLMAdmin
) -> None:
    scripted_llm.set_rules(
        Rule(
            system_contains=agent_token,
            last_role="user",
            reply=TextReply(text="Hello back: {last_message}"),
        )
    )
    otid = str(uuid.uuid4())
    resp = await client.agents.messages.create(
        agent_id=agent_id, messages=[{"role": "user", "content": "hi there", "otid": otid}]
    )
    assert resp.stop_reason.stop_reason == "end_turn"
    answers = [m for m in resp.messages if m.message_type == "assistant_message"]
    assert [a.content for a in answers] == ["Hello back: hi there"]
    assert resp.usage.total_tokens
    assert resp.usage.total_tokens > 0
    history = await client.agents.messages.list(agent_id=agent_id, limit=10, order="desc")
    assert otid in [m.otid for m in history.items if m.message_type == "user_message"]
    # This agent's requests (a straggler of an earlier test's agent may be recorded too).
    ours = [r for r in scripted_llm.requests() if r.view and agent_token in r.view.system]
    assert ours and all(r.status == 200 for r in ours)


async def test_client_tool_approval_round_trip(
    client: AsyncLetta, agent_id: str, agent_token: str, scripted_llm: ScriptedLLMAdmin
) -> None:
    scripted_llm.set_rules(
        [
            Rule(
                system_contains=agent_token,
                last_role="user",
                last_message_contains="weather",
                reply=ToolCallsReply(
                    calls=[ToolCall(name="get_weather", arguments={"city": "Oslo"})]
                ),
            ),
            Rule(
                system_contains=agent_token,
                last_role="tool",
                reply=TextReply(text="It is {last_message_text}."),
            ),
        ]
    )
    first = await client.agents.messages.create(
        agent_id=agent_id,
        messages=[{"role": "user", "content": "what is the weather?"}],
        client_tools=[WEATHER_TOOL],
    )
    assert first.stop_reason.stop_reason == "requires_approval"
    request = next(m for m in first.messages if m.message_type == "approval_request_message")
    call = request.tool_call
    assert call.name == "get_weather"
    assert call.arguments is not None
    assert call.tool_call_id is not None
    assert json.loads(call.arguments) == {"city": "Oslo"}

    # While the approval is pending, a new user message is refused.
    with pytest.raises(ConflictError) as refused:
        await client.agents.messages.create(
            agent_id=agent_id, messages=[{"role": "user", "content": "are you there?"}]
        )
    assert refused.value.status_code == 409
    assert isinstance(refused.value.body, dict)
    assert refused.value.body["detail"]["code"] == "PENDING_APPROVAL"

    final = await client.agents.messages.create(
        agent_id=agent_id,
        messages=[
            {
                "type": "approval",
                "approvals": [
                    {
                        "type": "tool",
                        "tool_call_id": call.tool_call_id,
                        "tool_return": "snowy",
                        "status": "success",
                    }
                ],
            }
        ],
        client_tools=[WEATHER_TOOL],
    )
    assert final.stop_reason.stop_reason == "end_turn"
    assert "tool_return_message" in types_of(final.messages)
    answers = [m.content for m in final.messages if m.message_type == "assistant_message"]
    assert answers == ["It is snowy."]


async def test_kill_and_restart_letta_server(
    client: AsyncLetta,
    agent_id: str,
    agent_token: str,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    if letta_stack.letta.reused:
        # A server started by hand (python -m letta_actors.localstack up) is not ours to kill.
        # CI always starts its own, so there this can only mean a stale server: fail loudly.
        if os.environ.get("CI"):
            pytest.fail("CI must start its own Letta server, but one was already running")
        pytest.skip("the Letta server was reused from outside this session: not killing it")
    scripted_llm.set_rules(
        [
            Rule(
                system_contains=agent_token,
                last_message_contains="slow",
                latency_seconds=120,
                reply=TextReply(text="too late"),
            ),
            Rule(system_contains=agent_token, reply=TextReply(text="back: {last_message}")),
        ]
    )
    errors: list[BaseException] = []

    async def send_slow() -> None:
        try:
            await client.agents.messages.create(
                agent_id=agent_id, messages=[{"role": "user", "content": "slow one"}]
            )
        except APIError as exc:
            errors.append(exc)

    async with AsyncScriptedLLMAdmin(letta_stack.llm_root_url) as admin:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(send_slow)
                assert (await admin.wait(in_flight_at_least=1, wait_seconds=30)).satisfied
                await anyio.to_thread.run_sync(letta_stack.letta.kill)
        assert len(errors) == 1, "the request in flight must fail when the server dies"
        assert not letta_stack.letta.is_healthy()

        await anyio.to_thread.run_sync(letta_stack.letta.restart)
        assert letta_stack.letta.is_healthy()

    resp = await client.agents.messages.create(
        agent_id=agent_id, messages=[{"role": "user", "content": "after restart"}]
    )
    answers = [m.content for m in resp.messages if m.message_type == "assistant_message"]
    assert answers == ["back: after restart"]
