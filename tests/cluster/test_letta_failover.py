"""Issue 13, test 2: Letta agents (the local stack) spread over cluster nodes; a workflow
running; the node owning a specialist dies while that specialist's Letta request is in flight.
The workflow completes within its deadline and the Letta server holds exactly one user message
per sent ``otid``: the new owner gets the ask again (same envelope id, ``attempt=2``) and looks
its ``otid`` up before sending it.

Two versions: three daemon processes (the :mod:`.procs` harness), one SIGKILLed, a fan-out
workflow run through the API; and two nodes in this process, one losing its NATS connection
(a lease loss: the actor is stopped mid-request on a node that is still alive).
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from pathlib import Path
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
from .procs import Cluster, TeamSpec, running, team_text

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
    # The new owner read the victim's answer back instead of sending its message again.
    assert replies[victim].text == f"{victim} (slowly): slow task for {victim}"
    assert replies[victim].recovered
    for name, reply in replies.items():
        # Exactly one user message per sent otid: the reply's.
        otids = Counter(m.otid for m in sent[name])
        assert otids == Counter({reply.otid: 1}), (name, otids)


# -- three daemon processes, one SIGKILLed ---------------------------------------------------

#: Six specialists over three nodes (named like the harness's agents: ``a00``...).
SPEC = TeamSpec(actors=6, ttl=3.0, renew_interval=0.5)


class LettaCluster(Cluster):
    """The harness's cluster of daemons, running a team of Letta specialists (on the local
    stack) and a fan-out workflow ``survey`` asking each of them, instead of recording
    actors."""

    def __init__(
        self,
        root: Path,
        nats: LocalNatsServer,
        stack: LocalStack,
        token: str,
        names: Sequence[str] = ("n1", "n2", "n3"),
    ) -> None:
        self.stack = stack
        self.token = token
        super().__init__(root, nats, SPEC, names)

    def write_team(self, spec: TeamSpec) -> None:
        self.spec = spec
        stack, token = self.stack, self.token
        agents = "".join(
            f"""
[agents.{name}]
letta_name = "{name}-{token}"
system = "You are the specialist {name}. Marker: {marker(token, name)}"
tags = ["{token}"]
"""
            for name in spec.names
        )
        tasks = ", ".join(
            f'{{ id = "{name}", agent = "{name}", message = "task for {name}: {{input}}" }}'
            for name in spec.names
        )
        # The harness's team file without its recording agents ([team], [cluster], [api]),
        # plus the Letta server, the specialists and the workflow.
        base = team_text(replace(spec, actors=0), self.nats.url, self.record_dir)
        self.team.write_text(f"""{base}
[letta]
base_url = "{stack.letta_base_url}"
model = "{stack.model_handle}"
embedding = "{stack.embedding_handle}"
request_timeout = 120
{agents}
[workflows.survey]
kind = "fan_out"
timeout = {WORKFLOW_DEADLINE}
task_timeout = {WORKFLOW_DEADLINE}
concurrency = {spec.actors}
tasks = [{tasks}]
""")


def letta_cluster(
    root: Path, nats: LocalNatsServer, stack: LocalStack, token: str
) -> AbstractAsyncContextManager[LettaCluster]:
    """A started cluster of Letta agents (see :func:`tests.cluster.procs.running`)."""
    return running(LettaCluster(root, nats, stack, token))


def specialist_rules(token: str, slow: str) -> list[Rule]:
    """Every specialist answers at once but ``slow``, which takes :data:`SLOW` seconds."""
    return [
        Rule(
            system_contains=marker(token, name),
            last_role="user",
            latency_seconds=SLOW if name == slow else 0.0,
            reply=TextReply(text=f"{name}: {{last_message}}"),
        )
        for name in SPEC.names
    ]


async def request_pending_for(admin: AsyncScriptedLLMAdmin, token: str, name: str) -> bool:
    """Whether the LLM is answering a request of specialist ``name`` now."""
    requests = await admin.requests(include_body=False)
    return any(
        r.status is None and r.view is not None and marker(token, name) in r.view.system
        for r in requests
    )


async def test_a_specialist_s_node_sigkilled_mid_request_leaves_one_user_message_per_otid(
    nats_server: LocalNatsServer,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
    agent_token: str,
    tmp_path: Path,
) -> None:
    try:
        async with letta_cluster(tmp_path, nats_server, letta_stack, agent_token) as cluster:
            owners = await cluster.settled()
            runner = cluster["n1"]
            victim = next(cluster[n] for n in ("n2", "n3") if any(o == n for o in owners.values()))
            slow = next(a for a, n in owners.items() if n == victim.name)
            scripted_llm.set_rules(specialist_rules(agent_token, slow))
            http = cluster.client(runner)
            started = await http.post("/v1/workflows/survey/runs", json={"input": "failover"})
            assert started.status_code == 202, started.text
            run_id = started.json()["run_id"]
            async with AsyncScriptedLLMAdmin(letta_stack.llm_root_url) as admin:
                await wait_until(
                    lambda: request_pending_for(admin, agent_token, slow),
                    timeout=DEADLINE,
                    what=f"{slow}'s request at the LLM",
                )
            assert await victim.kill() == -signal.SIGKILL

            async def finished() -> dict[str, Any] | None:
                summary: dict[str, Any] = (await http.get(f"/v1/runs/{run_id}")).json()
                return summary if summary["state"] != "running" else None

            summary = await wait_until(
                finished, timeout=WORKFLOW_DEADLINE + 30, what="the workflow to finish"
            )
            after = await cluster.owners(runner)
    finally:
        async with LettaConnection(connection_config(letta_stack)) as conn:
            agents: dict[str, list[str]] = {}
            sent: dict[str, list[Any]] = {}
            for name in SPEC.names:
                found = conn.client.agents.list(name=f"{name}-{agent_token}")
                agents[name] = [a.id async for a in found]
                for agent_id in agents[name]:
                    sent.setdefault(name, []).extend(await user_messages(conn, agent_id))
            await delete_tagged_agents(conn, agent_token)

    assert summary["status"] == "completed", json.dumps(summary, indent=1)[:4000]
    assert after[slow] not in (None, victim.name)  # a survivor took it over
    for name in SPEC.names:
        assert len(agents[name]) == 1, (name, agents[name])  # the new owner found it
        # One task each: exactly one user message. Asked from another node, its otid is the
        # envelope's wire id (a local ask keeps its int id: a fresh uuid).
        otids = Counter(m.otid for m in sent[name])
        assert len(sent[name]) == 1, (name, otids)
        [message] = sent[name]
        if owners[name] != runner.name:
            assert message.otid.startswith(f"{runner.name}."), message.otid
        assert f"task for {name}: failover" in str(message.content)
