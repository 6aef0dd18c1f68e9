"""The tutorial's parallel analysts: technical, business and design views at the same time.

Run: ``python examples/parallel_analysts.py`` (local stack without ``LETTA_BASE_URL``, that
server and ``LETTA_MODEL`` with it). Each analyst is its own actor, so the three requests run
concurrently; the fan-out reports each answer or each failure.
"""

from __future__ import annotations

import uuid

import anyio

from letta_actors import ActorSystem
from letta_actors.letta import AgentSpec, LettaAgent
from letta_actors.localstack import Rule, TextReply, letta_environment
from letta_actors.patterns import FanOut

ANALYSTS = {
    "technical": "You judge technical feasibility.",
    "business": "You judge cost and market fit.",
    "design": "You judge the user experience.",
}
PROPOSAL = "A mobile app that lets tenants report repairs with photos."


async def main() -> None:
    token = uuid.uuid4().hex[:8]
    with letta_environment() as env:
        if env.stack is not None:
            env.stack.admin.set_rules(
                [
                    Rule(system_contains=f"{role} {token}", latency_seconds=0.5,
                         reply=TextReply(text=f"The {role} view: promising."))
                    for role in ANALYSTS
                ]
            )  # fmt: skip
        # env.connect(cleanup_tag=...) deletes the example's agents on the way out
        async with (
            env.connect(cleanup_tag=token) as conn,
            ActorSystem() as system,
        ):
            for role, duty in ANALYSTS.items():
                spec = AgentSpec(
                    name=f"example-{role}-{token}",
                    system=f"You are the {role} analyst {token}. {duty}",
                    model=env.model,
                    embedding=env.embedding,
                    tags=("example", token),
                )
                await system.spawn(LettaAgent.factory(spec, conn), name=role)
            tasks = [(role, role, f"Assess: {PROPOSAL}") for role in ANALYSTS]
            result = await FanOut.of(system, tasks, concurrency=3, task_timeout=300).run(
                timeout=600
            )
            for outcome in result.results:
                answer = outcome.answer or outcome.error
                print(f"{outcome.id:>9} [{outcome.status}] {answer} ({outcome.latency:.2f} s)")
            print(f"status: {result.status}, wall time {result.duration:.2f} s")
            for agent, usage in result.usage.items():
                print(f"  {agent}: {usage.total_tokens} tokens")


if __name__ == "__main__":
    anyio.run(main)
