"""Issue 13, test 2: Letta agents (the local stack) spread over cluster nodes; a workflow
running; the node owning a specialist dies while that specialist's Letta request is in flight.
The workflow completes within its deadline and the Letta server holds exactly one user message
per sent ``otid``: the new owner gets the ask again (same envelope id, ``attempt=2``) and looks
its ``otid`` up before sending it."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from letta_actors import ActorSystem
from letta_actors.cluster import ClusterRuntime, LocalNatsServer, Placed
from letta_actors.durable import Codec
from letta_actors.letta import AgentReply, AgentSpec, LettaAgent, LettaConnection
from letta_actors.localstack import (
    AsyncScriptedLLMAdmin,
    LocalStack,
    Rule,
    ScriptedLLMAdmin,
    TextReply,
)
from letta_actors.localstack.environment import delete_tagged_agents

from ..helpers import wait_until
from ..letta.agent_fixtures import connection_config, marker, spec_for
from .helpers import DEADLINE, settings

pytestmark = [pytest.mark.anyio, pytest.mark.letta]

SPECIALISTS = [f"s{i}" for i in range(4)]
#: How long the scripted LLM takes over the victim's message: the owner dies meanwhile.
SLOW = 15.0
#: The workflow's deadline (the failover, the lookup and the read-back fit well within it).
WORKFLOW_DEADLINE = 120.0


def rules(token: str) -> list[Rule]:
    slow = [
        Rule(
            system_contains=marker(token, name),
            last_role="user",
            last_user_message_contains="slow",
            latency_seconds=SLOW,
            reply=TextReply(text=f"{name} (slowly): {{last_message}}"),
        )
        for name in SPECIALISTS
    ]
    quick = [
        Rule(
            system_contains=marker(token, name),
            last_role="user",
            reply=TextReply(text=f"{name}: {{last_message}}"),
        )
        for name in SPECIALISTS
    ]
    return slow + quick


@asynccontextmanager
async def node(
    server: LocalNatsServer, name: str, specs: dict[str, AgentSpec], stack: LocalStack
) -> AsyncIterator[ClusterRuntime]:
    """One node: its own system and Letta connection, the specialists placed over the
    cluster."""
    async with LettaConnection(connection_config(stack)) as conn, ActorSystem(name=name) as system:

        def placed(actor: str) -> Placed:
            async def spawn() -> None:
                await system.spawn(LettaAgent.factory(specs[actor], conn), name=actor)

            return Placed(spawn=spawn, durable=True)

        actors = {a: placed(a) for a in specs}
        # Replies cross nodes: AgentReply must be known to the wire's codec.
        runtime = ClusterRuntime(system, settings(server, name), actors, codec=Codec([AgentReply]))
        async with runtime:
            yield runtime


async def slow_request_pending(admin: AsyncScriptedLLMAdmin) -> bool:
    """Whether the LLM is answering a slow request now."""
    requests = await admin.requests(include_body=False)
    return any(
        r.status is None and r.view is not None and "slow task" in r.view.last_user_message
        for r in requests
    )


async def user_messages(conn: LettaConnection, agent_id: str) -> list[Any]:
    page = await conn.client.agents.messages.list(agent_id, limit=200, order="asc")
    return [m for m in page.items if m.message_type == "user_message"]


async def test_a_specialist_s_node_lost_mid_request_sends_its_message_once(
    nats_server: LocalNatsServer,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
    agent_token: str,
) -> None:
    """In one process: the victim node's NATS connection is closed (it stops renewing its
    leases, as a killed node does) while its specialist waits on the LLM."""
    scripted_llm.set_rules(rules(agent_token))
    specs = {name: spec_for(letta_stack, agent_token, name) for name in SPECIALISTS}
    replies: dict[str, AgentReply] = {}
    try:
        async with (
            node(nats_server, "n1", specs, letta_stack) as n1,
            node(nats_server, "n2", specs, letta_stack) as n2,
        ):
            await wait_until(
                lambda: n2.owned() and len(n1.owned()) + len(n2.owned()) == len(SPECIALISTS),
                timeout=DEADLINE,
                what="specialists spread over both nodes",
            )
            victim = n2.owned()[0]

            async def ask(name: str) -> None:
                text = f"{'slow' if name == victim else 'quick'} task for {name}"
                reply = await n1.system.ref(name).ask(text, timeout=WORKFLOW_DEADLINE)
                assert isinstance(reply, AgentReply)
                replies[name] = reply

            async with AsyncScriptedLLMAdmin(letta_stack.llm_root_url) as admin:
                with anyio.fail_after(WORKFLOW_DEADLINE):
                    async with anyio.create_task_group() as tg:
                        for name in SPECIALISTS:
                            tg.start_soon(ask, name)
                        # The victim's request is with the LLM: its node goes away.
                        await wait_until(
                            lambda: slow_request_pending(admin),
                            timeout=DEADLINE,
                            what="the victim's request at the LLM",
                        )
                        await n2.conn.client.close()
            assert n1.owns(victim)
            assert n1.stats.failovers >= 1
    finally:
        async with LettaConnection(connection_config(letta_stack)) as conn:
            sent: dict[str, list[Any]] = {}
            for name, reply in replies.items():
                sent[name] = await user_messages(conn, reply.agent_id)
            await delete_tagged_agents(conn, agent_token)

    assert sorted(replies) == SPECIALISTS
    for name, reply in replies.items():
        word = "slow" if name == victim else "quick"
        expected = f"{name} (slowly): {word} task for {name}" if name == victim else None
        assert expected is None or reply.text == expected
        # Exactly one user message per sent otid, and the reply's otid is one of them.
        otids = Counter(m.otid for m in sent[name])
        assert otids == Counter({reply.otid: 1}), (name, otids)
    assert replies[victim].recovered
