"""Handoff: a ``sales`` agent hands a customer with a technical problem over to ``support``.

Run: ``python examples/sales_support.py``. Without ``LETTA_BASE_URL`` it starts (or reuses)
the local stack (scripted LLM + Letta 0.16.8) and scripts the LLM so that sales calls the
``transfer`` tool; with ``LETTA_BASE_URL`` (and ``LETTA_MODEL``, ``LETTA_EMBEDDING``,
``LETTA_API_KEY``) a real model decides on its own.

:func:`build_team` is the reusable part (a daemon calls it with its own system and
connection); :func:`main` runs a two-message conversation and prints the records.
"""

from __future__ import annotations

import uuid

import anyio

from letta_actors import ActorSystem
from letta_actors.letta import AgentSpec, LettaAgent, LettaConnection
from letta_actors.localstack import LocalStack, letta_environment
from letta_actors.patterns.handoff import TRANSFER, HandoffSession, HandoffSpec, handoff_tools

ROLES = {
    "sales": "You are the sales agent of an internet provider: plans, prices, upgrades. "
    f"When the customer has a technical problem, call the {TRANSFER} tool to hand them over "
    "to support, with the reason.",
    "support": "You are the technical support agent of an internet provider: routers, "
    f"outages, configuration. When the customer wants to buy or change a plan, call the "
    f"{TRANSFER} tool to hand them over to sales, with the reason.",
}


async def build_team(
    system: ActorSystem, conn: LettaConnection, *, model: str, embedding: str, tag: str
) -> HandoffSession:
    """Spawn ``sales`` and ``support`` (find-or-create Letta agents named ``<role>-<tag>``),
    link them both ways and return the session (entry agent: sales)."""
    for role, instructions in ROLES.items():
        agent = AgentSpec(
            name=f"{role}-{tag}",
            system=f"{instructions} [agent {role}-{tag}]",
            persona=f"The {role} agent.",
            human="A customer.",
            model=model,
            embedding=embedding,
            tags=(tag,),
        )
        await system.spawn(
            LettaAgent.factory(agent, conn, tool_factories=[handoff_tools]), name=role
        )
    spec = HandoffSpec(
        name="customer-desk",
        agents=("sales", "support"),
        entry="sales",
        links=(("sales", "support"), ("support", "sales")),
        max_handoffs_per_message=2,
        transcript_window=8,
        turn_timeout=120,
    )
    return HandoffSession(system, spec)


def script_llm(stack: LocalStack, tag: str) -> None:
    """Scripted answers: sales hands router trouble to support; support answers."""
    from letta_actors.localstack import Rule, TextReply, ToolCall, ToolCallsReply

    sales, support = f"[agent sales-{tag}]", f"[agent support-{tag}]"
    reason = "the customer's router keeps dropping the connection"
    stack.admin.set_rules(
        [
            Rule(
                system_contains=sales,
                last_role="user",
                last_message_contains="router",
                reply=ToolCallsReply(
                    calls=[
                        ToolCall(name=TRANSFER, arguments={"agent": "support", "reason": reason})
                    ]
                ),
            ),
            Rule(
                system_contains=sales,
                last_role="tool",
                reply=TextReply(text="Our support team will take it from here."),
            ),
            Rule(
                system_contains=support,
                last_role="user",
                last_message_contains="[Handoff]",
                reply=TextReply(
                    text="Hi, support here. Please update the router firmware and restart it; "
                    "the Pro upgrade can wait until the line is stable."
                ),
            ),
            Rule(
                system_contains=support,
                last_role="user",
                reply=TextReply(text="Glad it works now! Anything else?"),
            ),
        ]
    )


async def main() -> None:
    tag = f"example-{uuid.uuid4().hex[:8]}"
    with letta_environment() as env:
        if env.stack is not None:
            script_llm(env.stack, tag)
        # env.connect(cleanup_tag=...) deletes the example's agents on the way out
        async with (
            env.connect(cleanup_tag=tag) as conn,
            ActorSystem() as system,
        ):
            session = await build_team(
                system, conn, model=env.model, embedding=env.embedding, tag=tag
            )
            for text in (
                "Hi! I want to upgrade to Pro, but my router keeps dropping the connection.",
                "Thanks, the firmware update fixed it.",
            ):
                record = await session.send(text, timeout=300)
                print(f"user: {text}")
                print(f"  {record.answered_by}: {record.reply}")
                print(f"  status {record.status}, chain {' -> '.join(record.chain)}")
                for handoff in record.handoffs:
                    print(f"  handoff {handoff.from_agent} -> {handoff.to_agent}: "
                          f"{handoff.reason}")  # fmt: skip
                for name, usage in record.usage.items():
                    print(f"  tokens {name}: {usage.total_tokens}")
            print(f"session handoffs: {len(session.handoffs)}; now with {session.current}")
            print(session.records[0].to_mermaid())


if __name__ == "__main__":
    anyio.run(main)
