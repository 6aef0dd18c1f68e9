"""Handoff sessions: plain actors (no server) and Letta agents on the local stack.

The Letta tests script the LLM (rules per agent marker) and assert structure: the handoff
chain, refusals, the cap, the note the receiving agent got, partial records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pydantic
import pytest

from letta_actors import Actor, ActorSystem
from letta_actors.letta import LettaAgent, LettaConnection
from letta_actors.localstack import (
    AsyncScriptedLLMAdmin,
    LocalStack,
    Rule,
    ScriptedLLMAdmin,
    TextReply,
    ToolCall,
)
from letta_actors.localstack import ToolCallsReply as Calls
from letta_actors.patterns import RunControl, RunStatus
from letta_actors.patterns.handoff import (
    TRANSFER,
    HandoffMessage,
    HandoffSession,
    HandoffSpec,
    handoff_tools,
)

from .agent_fixtures import letta_conn, marker, spec_for

pytestmark = pytest.mark.anyio
__all__ = ["letta_conn"]


# -- plain actors (no server) ------------------------------------------------------------


class Desk(Actor):
    """Hands over when the message says ``to:<name>``, else answers."""

    async def receive(self, message: Any) -> str:
        assert isinstance(message, HandoffMessage)
        for word in message.split():
            if word.startswith("to:") and word[3:] != self.name:
                message.transfer(word[3:], f"{self.name} sends the user on")
                return f"{self.name}: bye"
        return f"{self.name} answers"


async def test_spec_validation() -> None:
    with pytest.raises(pydantic.ValidationError):
        HandoffSpec(agents=("a", "a"))
    with pytest.raises(pydantic.ValidationError):
        HandoffSpec(agents=("a", "b"), entry="c")
    with pytest.raises(pydantic.ValidationError):
        HandoffSpec(agents=("a", "b"), links=(("a", "z"),))
    spec = HandoffSpec.model_validate({"agents": ["a", "b"], "links": [["a", "b"]]})
    assert spec.entry_agent == "a"
    assert spec.links == (("a", "b"),)


async def test_plain_actors_chain_cap_and_history() -> None:
    async with ActorSystem() as system:
        for name in ("a", "b", "c"):
            await system.spawn(Desk, name=name)
        spec = HandoffSpec(agents=("a", "b", "c"), links=(("a", "b"), ("b", "c")),
                           max_handoffs_per_message=1)  # fmt: skip
        session = HandoffSession(system, spec)
        first = await session.send("hello to:b", timeout=10)
        assert first.status is RunStatus.COMPLETED
        assert first.chain == ["a", "b"]
        assert (first.answered_by, first.reply) == ("b", "b answers")
        second = await session.send("now to:c to:a", timeout=10)  # b -> c is linked
        assert second.chain == ["b", "c"]
        assert [h.message_index for h in session.handoffs] == [0, 1]
        third = await session.send("to:a please", timeout=10)  # c -> a is not linked
        assert third.handoffs == []
        assert third.refused[0].to_agent == "a"
        assert "not an agent you can hand over to" in third.refused[0].why
        assert session.current == "c"
        assert "handoff" in first.to_mermaid()


# -- Letta agents --------------------------------------------------------------------------


def transfer(agent: str, reason: str) -> Calls:
    return Calls(calls=[ToolCall(name=TRANSFER, arguments={"agent": agent, "reason": reason})])


@pytest.fixture
async def team(
    letta_conn: LettaConnection, letta_stack: LocalStack, agent_token: str
) -> AsyncIterator[ActorSystem]:
    """``sales``, ``support`` and ``billing`` Letta agents with the transfer tool."""
    async with ActorSystem() as system:
        for role in ("sales", "support", "billing"):
            spec = spec_for(letta_stack, agent_token, role)
            factory = LettaAgent.factory(spec, letta_conn, tool_factories=[handoff_tools])
            await system.spawn(factory, name=role)
        yield system


def requests_of(llm: ScriptedLLMAdmin, token: str, role: str) -> list[Any]:
    return [
        r for r in llm.requests() if r.view is not None and marker(token, role) in r.view.system
    ]


def transfer_enum(request: Any) -> list[str] | None:
    for tool in request.body.get("tools") or []:
        function = tool.get("function", {})
        if function.get("name") == TRANSFER:
            enum: list[str] = function["parameters"]["properties"]["agent"]["enum"]
            return enum
    return None


@pytest.mark.letta
async def test_sales_hands_over_to_support_with_note_and_transcript(
    team: ActorSystem, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    sales, support = marker(agent_token, "sales"), marker(agent_token, "support")
    scripted_llm.set_rules([
        Rule(system_contains=sales, last_role="user",
             reply=transfer("support", "technical problem with the router")),
        Rule(system_contains=sales, last_role="tool", reply=TextReply(text="Over to support.")),
        Rule(system_contains=support, last_role="user", reply=TextReply(text="Support: fixed.")),
    ])  # fmt: skip
    spec = HandoffSpec(agents=("sales", "support", "billing"), links=(("sales", "support"),))
    session = HandoffSession(team, spec)
    with anyio.fail_after(90):
        record = await session.send("My router keeps rebooting.", timeout=80)
    assert record.status is RunStatus.COMPLETED, record.error
    assert record.chain == ["sales", "support"]
    [handoff] = record.handoffs
    assert (handoff.from_agent, handoff.to_agent) == ("sales", "support")
    assert handoff.reason == "technical problem with the router"
    assert (record.answered_by, record.reply) == ("support", "Support: fixed.")
    assert [t.agent for t in record.turns] == ["sales", "support"]
    assert record.turns[0].handed_to == "support"
    assert session.current == "support"
    assert session.handoffs == record.handoffs
    assert {"sales", "support"} <= set(record.usage)
    assert [e.kind for e in record.events].count("handoff") == 1
    assert "sales->>support: handoff" in record.to_mermaid()
    # What the LLM saw: sales was offered transfer to its one peer; support got the note.
    sales_requests = requests_of(scripted_llm, agent_token, "sales")
    assert transfer_enum(sales_requests[0]) == ["support"]
    [note_request] = [
        r for r in requests_of(scripted_llm, agent_token, "support") if r.view.last_role == "user"
    ]
    note = note_request.view.last_message
    assert "[Handoff] sales handed the user over to you." in note
    assert "Reason: technical problem with the router" in note
    assert "- user: My router keeps rebooting." in note
    assert "- sales: Over to support." in note
    assert transfer_enum(note_request) is None  # support has no links: no transfer tool
    # The next message goes straight to support, without a note.
    with anyio.fail_after(60):
        again = await session.send("Thanks!", timeout=50)
    assert (again.entry_agent, again.answered_by, again.handoffs) == ("support", "support", [])
    last = requests_of(scripted_llm, agent_token, "support")[-1]
    assert "[Handoff]" not in last.view.last_message


@pytest.mark.letta
async def test_handoff_to_unlinked_agent_is_a_tool_error(
    team: ActorSystem, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    sales = marker(agent_token, "sales")
    scripted_llm.set_rules([
        Rule(system_contains=sales, last_role="user", reply=transfer("billing", "an invoice")),
        Rule(system_contains=sales, last_role="tool",
             reply=TextReply(text="I will help you myself.")),
    ])  # fmt: skip
    spec = HandoffSpec(agents=("sales", "support", "billing"), links=(("sales", "support"),))
    session = HandoffSession(team, spec)
    with anyio.fail_after(60):
        record = await session.send("Where is my invoice?", timeout=50)
    assert record.status is RunStatus.COMPLETED, record.error
    assert record.handoffs == []
    [refused] = record.refused
    assert (refused.from_agent, refused.to_agent) == ("sales", "billing")
    assert (record.answered_by, record.reply) == ("sales", "I will help you myself.")
    assert session.current == "sales"
    tool_answer = requests_of(scripted_llm, agent_token, "sales")[-1].view
    assert tool_answer.last_role == "tool"
    assert "transfer refused" in tool_answer.last_message
    assert "billing" in tool_answer.last_message
    assert not requests_of(scripted_llm, agent_token, "billing")


@pytest.mark.letta
async def test_ping_pong_loop_is_stopped_by_the_cap(
    team: ActorSystem, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    rules: list[Rule] = []
    for me, other in (("sales", "support"), ("support", "sales")):
        rules += [
            Rule(system_contains=marker(agent_token, me), last_role="user",
                 reply=transfer(other, f"{other} knows better")),
            Rule(system_contains=marker(agent_token, me), last_role="tool",
                 reply=TextReply(text=f"{me}: {{last_message_text}}")),
        ]  # fmt: skip
    scripted_llm.set_rules(rules)
    spec = HandoffSpec(agents=("sales", "support"), links=(("sales", "support"),
                       ("support", "sales")), max_handoffs_per_message=2)  # fmt: skip
    session = HandoffSession(team, spec)
    with anyio.fail_after(90):
        record = await session.send("Help!", timeout=80)
    assert record.status is RunStatus.PARTIAL
    assert record.capped
    assert record.chain == ["sales", "support", "sales"]
    [refused] = record.refused
    assert (refused.from_agent, refused.to_agent) == ("sales", "support")
    assert "limit" in refused.why
    assert record.answered_by == "sales"
    assert record.reply is not None
    assert "handoff limit" in record.reply  # the tool error text, echoed by the scripted rule
    assert len(session.handoffs) == 2


@pytest.mark.letta
async def test_deadline_returns_partial_record_and_cancels_the_request(
    team: ActorSystem,
    scripted_llm: ScriptedLLMAdmin,
    letta_stack: LocalStack,
    agent_token: str,
) -> None:
    sales, support = marker(agent_token, "sales"), marker(agent_token, "support")
    scripted_llm.set_rules([
        Rule(system_contains=sales, last_role="user", reply=transfer("support", "router")),
        Rule(system_contains=sales, last_role="tool", reply=TextReply(text="Over to support.")),
        Rule(system_contains=support, latency_seconds=60, reply=TextReply(text="too late")),
    ])  # fmt: skip
    spec = HandoffSpec(agents=("sales", "support"), links=(("sales", "support"),))
    session = HandoffSession(team, spec)
    control = RunControl()
    async with (
        AsyncScriptedLLMAdmin(letta_stack.llm_root_url) as admin,
        anyio.create_task_group() as tg,
    ):

        async def cancel_when_support_thinks() -> None:
            # sales: 2 LLM calls; the third is support's, held by its latency.
            waited = await admin.wait(chat_requests_at_least=3, in_flight_at_least=1,
                                      wait_seconds=60)  # fmt: skip
            assert waited.satisfied
            control.cancel()

        tg.start_soon(cancel_when_support_thinks)
        with anyio.fail_after(90):
            record = await session.send("My router keeps rebooting.", timeout=80, control=control)
    assert record.status is RunStatus.CANCELLED
    assert record.partial
    assert record.chain == ["sales", "support"]
    assert record.reply is None
    assert record.turns[-1].agent == "support"
    assert record.turns[-1].error == "the run was stopped"
    assert session.current == "support"
    assert record.events[-1].kind == "cancelled"
    # And a deadline: the same wait ends the run as timed out.
    with anyio.fail_after(60):
        late = await session.send("Still there?", timeout=2)
    assert late.status is RunStatus.TIMED_OUT
    assert (late.entry_agent, late.reply, late.handoffs) == ("support", None, [])
    assert late.duration < 10
    # Both abandoned asks cancelled their Letta run (support handled the second message only
    # after the first one's cancel had finished, so the first count is surely in).
    cell = team.cell("support")
    assert cell is not None
    assert isinstance(cell.instance, LettaAgent)
    assert cell.instance.letta_stats.requests["cancelled"] >= 1
