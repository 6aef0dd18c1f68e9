"""Consensus: ``conservative``, ``innovative`` and ``practical`` agents vote on a technology.

Run: ``python examples/tech_vote.py``. Without ``LETTA_BASE_URL`` it starts (or reuses) the
local stack (scripted LLM + Letta 0.16.8) and scripts the LLM: two agents vote with the
``vote`` tool, one answers in prose (``VOTE: n``, the text fallback); in the second round the
practical agent, having read the others' reasoning, changes its vote. With ``LETTA_BASE_URL``
(and ``LETTA_MODEL``, ``LETTA_EMBEDDING``, ``LETTA_API_KEY``) a real model decides.

:func:`build_team` is the reusable part (a daemon calls it with its own system and
connection); :func:`main` runs the vote and prints the result.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio

from letta_actors import ActorSystem
from letta_actors.letta import AgentSpec, LettaAgent, LettaConnection
from letta_actors.localstack import LocalStack, letta_environment
from letta_actors.patterns._voting import VotingRules
from letta_actors.patterns.consensus import VOTE, Consensus, ConsensusSpec, vote_tools

QUESTION = "Which technology should carry the events of our new order-processing service?"
OPTIONS = ("PostgreSQL", "Kafka", "Redis Streams")
PERSONAS = {
    "conservative": "You favour proven, boring technology and low operational risk.",
    "innovative": "You favour modern technology that scales and opens new possibilities.",
    "practical": "You favour what the team can ship and run soon with the skills it has.",
}


async def build_team(
    system: ActorSystem, conn: LettaConnection, *, model: str, embedding: str, tag: str
) -> Consensus:
    """Spawn the three voters (find-or-create Letta agents named ``<role>-<tag>``) and return
    the vote: quorum 2 of 3, ties broken by the practical agent, with a second round."""
    for role, persona in PERSONAS.items():
        agent = AgentSpec(
            name=f"{role}-{tag}",
            system=f"You are the {role} member of an architecture board. {persona} When asked "
            f"to vote, call the {VOTE} tool with your option and reasoning. [agent {role}-{tag}]",
            persona=persona,
            human="The architecture board.",
            model=model,
            embedding=embedding,
            tags=(tag,),
        )
        await system.spawn(LettaAgent.factory(agent, conn, tool_factories=[vote_tools]), name=role)
    spec = ConsensusSpec(
        name="tech-choice",
        question=QUESTION,
        voters=tuple(PERSONAS),
        rules=VotingRules(options=OPTIONS, quorum=0.5, tie_break="chair", chair="practical"),
        second_round=True,
        vote_timeout=120,
    )
    return Consensus(system, spec)


def script_llm(stack: LocalStack, tag: str) -> None:
    """Scripted answers for both rounds (round 2 requests contain ``Round 2:``)."""
    from letta_actors.localstack import Rule, TextReply, ToolCall, ToolCallsReply

    def by_tool(role: str, option: str, reasoning: str, **when: Any) -> list[Rule]:
        call = ToolCall(name=VOTE, arguments={"option": option, "reasoning": reasoning})
        system = f"[agent {role}-{tag}]"
        return [
            Rule(system_contains=system, last_role="user", reply=ToolCallsReply(calls=[call]),
                 **when),
            Rule(system_contains=system, last_role="tool", reply=TextReply(text="Voted."),
                 **when),
        ]  # fmt: skip

    round2 = {"last_message_contains": "Round 2:"}
    stack.admin.set_rules(
        [
            *by_tool(
                "practical",
                "PostgreSQL",
                "The conservative point stands: we already run PostgreSQL well, and an "
                "outbox table gives us ordered events today.",
                **round2,
            ),
            *by_tool(
                "conservative",
                "PostgreSQL",
                "We run PostgreSQL already; one less system to operate.",
            ),
            Rule(
                system_contains=f"[agent innovative-{tag}]",
                last_role="user",
                reply=TextReply(
                    text="Kafka gives us replayable streams and room to grow.\nVOTE: 2"
                ),
            ),
            *by_tool("practical", "Redis Streams", "We have Redis; streams are quick to adopt."),
        ]
    )


async def main() -> None:
    tag = f"example-{uuid.uuid4().hex[:8]}"
    with letta_environment() as env:
        if env.stack is not None:
            script_llm(env.stack, tag)
        async with env.connect(cleanup_tag=tag) as conn:  # deletes the example's agents
            async with ActorSystem() as system:
                vote = await build_team(
                    system, conn, model=env.model, embedding=env.embedding, tag=tag
                )
                result = await vote.run(timeout=600)
            print(f"question: {result.question}")
            for round_ in result.rounds:
                assert round_.tally is not None
                print(f"round {round_.number}: {round_.tally.counts}")
                for ballot in round_.ballots:
                    print(f"  {ballot.agent}: {ballot.option or 'abstain'} "
                          f"(via {ballot.source}) - {ballot.reasoning}")  # fmt: skip
            for change in result.changed:
                print(f"changed: {change.agent} {change.before} -> {change.after}")
            print(f"decision: {result.decision} (round {result.decided_in}, "
                  f"unanimous {result.unanimous}, status {result.status})")  # fmt: skip
            for name, usage in result.usage.items():
                print(f"tokens {name}: {usage.total_tokens}")
            print(result.to_mermaid())


if __name__ == "__main__":
    anyio.run(main)
