"""The user message's ``otid`` is the envelope's str id, and a redelivered envelope
(``attempt > 1``) is looked up in Letta before it is sent: one user message per envelope,
even when a new actor instance (another node, after a crash) handles it again."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from letta_actors import ActorSystem
from letta_actors.actors import Envelope, ReplySlot
from letta_actors.letta import AgentReply, LettaAgent, LettaConnection
from letta_actors.localstack import LocalStack, Rule, ScriptedLLMAdmin, TextReply

from .agent_fixtures import letta_conn, marker, spec_for

pytestmark = [pytest.mark.anyio, pytest.mark.letta]
__all__ = ["letta_conn"]


async def user_messages(conn: LettaConnection, agent_id: str) -> list[Any]:
    page = await conn.client.agents.messages.list(agent_id, limit=100, order="desc")
    return [m for m in page.items if m.message_type == "user_message"]


def answer_with_echo(llm: ScriptedLLMAdmin, token: str) -> None:
    llm.set_rules(
        Rule(
            system_contains=marker(token, "alpha"),
            last_role="user",
            reply=TextReply(text="echo: {last_message}"),
        )
    )


@pytest.fixture
async def alpha(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> AsyncIterator[ActorSystem]:
    """A running system with the Letta agent actor ``alpha``, which echoes what it gets."""
    answer_with_echo(scripted_llm, agent_token)
    spec = spec_for(letta_stack, agent_token, "alpha")
    async with ActorSystem() as system:
        await system.spawn(LettaAgent.factory(spec, letta_conn), name="alpha")
        yield system


async def redeliver(system: ActorSystem, name: str, envelope_id: str, message: str) -> Any:
    """Put ``message`` in ``name``'s mailbox as a redelivery (``attempt=2``) of the ask
    ``envelope_id`` (what a cluster does after a failover) and return its reply."""
    cell = system.cell(name)
    assert cell is not None
    reply = ReplySlot()
    envelope = Envelope(
        envelope_id, name, message, time.time(), correlation_id=envelope_id, attempt=2,
        reply_to=reply,
    )  # fmt: skip
    await cell.mailbox.put(envelope)
    return await reply.wait()


async def test_the_envelope_str_id_is_the_otid(
    letta_conn: LettaConnection, alpha: ActorSystem
) -> None:
    with anyio.fail_after(60):
        reply = await alpha.bus.ask("alpha", "hi", message_id="n1.b7.42", timeout=60)
    assert isinstance(reply, AgentReply)
    assert reply.otid == "n1.b7.42"
    [sent] = await user_messages(letta_conn, reply.agent_id)
    assert sent.otid == "n1.b7.42"


async def test_a_redelivered_envelope_reaches_letta_once(
    letta_conn: LettaConnection, alpha: ActorSystem, scripted_llm: ScriptedLLMAdmin
) -> None:
    with anyio.fail_after(120):
        first = await alpha.bus.ask("alpha", "once", message_id="n1.b1.1", timeout=60)
        # A new instance (a restart, or another node after a failover) gets it again.
        await alpha.supervisor().restart_child("alpha")
        calls = scripted_llm.stats().chat_requests
        again = await redeliver(alpha, "alpha", "n1.b1.1", "once")
    assert scripted_llm.stats().chat_requests == calls  # the LLM was not asked again
    assert isinstance(first, AgentReply)
    assert isinstance(again, AgentReply)
    assert first.text == again.text == "echo: once"
    assert again.otid == "n1.b1.1"
    assert again.recovered
    assert not first.recovered
    [sent] = await user_messages(letta_conn, first.agent_id)
    assert sent.otid == "n1.b1.1"


async def test_a_redelivery_that_never_arrived_is_sent(
    letta_conn: LettaConnection, alpha: ActorSystem
) -> None:
    with anyio.fail_after(120):
        reply = await redeliver(alpha, "alpha", "n2.b1.5", "lost in flight")
    assert isinstance(reply, AgentReply)
    assert reply.text == "echo: lost in flight"
    assert not reply.recovered
    [sent] = await user_messages(letta_conn, reply.agent_id)
    assert sent.otid == "n2.b1.5"


class FailsAfterSending(LettaAgent):
    """Raises after its first message reached Letta (as if it crashed right after sending);
    hands the replies of later attempts to ``seen``."""

    def __init__(self, *args: Any, seen: Callable[[AgentReply], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen = seen

    async def receive(self, message: Any) -> AgentReply:
        reply = await super().receive(message)
        if self.envelope is not None and self.envelope.attempt == 1:
            raise RuntimeError("crashed after sending")
        self.seen(reply)
        return reply


async def test_a_supervisor_redelivery_is_not_sent_twice(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
) -> None:
    answer_with_echo(scripted_llm, agent_token)
    spec = spec_for(letta_stack, agent_token, "alpha")
    send, receive = anyio.create_memory_object_stream[AgentReply](1)
    async with ActorSystem() as system:
        await system.spawn(
            lambda: FailsAfterSending(spec, letta_conn, seen=send.send_nowait),
            name="alpha",
            max_attempts=2,
        )
        with anyio.fail_after(120):
            await system.bus.tell("alpha", "told once", message_id="api-7f3c")
            reply = await receive.receive()
    assert reply.recovered
    assert reply.text == "echo: told once"
    [sent] = await user_messages(letta_conn, reply.agent_id)
    assert sent.otid == "api-7f3c"


async def test_an_int_id_gets_a_fresh_uuid(letta_conn: LettaConnection, alpha: ActorSystem) -> None:
    with anyio.fail_after(60):
        first = await alpha.ref("alpha").ask("one", timeout=60)
        second = await alpha.ref("alpha").ask("two", timeout=60)
    assert str(uuid.UUID(first.otid)) == first.otid
    assert first.otid != second.otid
    sent = await user_messages(letta_conn, first.agent_id)
    assert sorted(m.otid for m in sent) == sorted([first.otid, second.otid])


async def test_nodes_attaching_at_once_share_one_letta_agent(
    letta_conn: LettaConnection, letta_stack: LocalStack, agent_token: str
) -> None:
    """Actors on several nodes (here: systems) resolving the same declared agent at the same
    moment end up on one Letta agent: one created twice is deleted by its creator."""
    spec = spec_for(letta_stack, agent_token, "alpha")
    ids: list[str] = []
    async with ActorSystem() as n1, ActorSystem() as n2, ActorSystem() as n3:

        async def attach(system: ActorSystem) -> None:
            await system.spawn(LettaAgent.factory(spec, letta_conn), name="alpha")
            cell = system.cell("alpha")
            assert cell is not None
            assert isinstance(cell.instance, LettaAgent)
            ids.append(cell.instance.agent_id)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for system in (n1, n2, n3):
                    tg.start_soon(attach, system)
    assert len(ids) == 3
    assert len(set(ids)) == 1
    named = [a.id async for a in letta_conn.client.agents.list(name=spec.name)]
    assert named == ids[:1]
