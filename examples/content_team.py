"""A content team under an orchestrator: research and writing in parallel, then editing.

The ``chief`` (an :class:`OrchestratorAgent`) decides whom to delegate to with its ``delegate``
tool; ``researcher``, ``writer`` and ``editor`` are plain Letta agents whose descriptions (from
their :class:`AgentSpec`) are what the chief sees about them. The run returns a record (plan,
every delegation with answer / latency / tokens / status, the final answer) printed here with
its Mermaid sequence diagram.

Run: ``python examples/content_team.py ["a topic"]``. Without ``LETTA_BASE_URL`` it starts (or
reuses) the local stack (scripted LLM + Letta 0.16.8) and scripts the LLM: the chief delegates
to researcher and writer in one call, then to the editor, then synthesises. With
``LETTA_BASE_URL`` (and ``LETTA_MODEL``, ``LETTA_EMBEDDING``, ``LETTA_API_KEY``) it uses that
server and a real model, which decides on its own.
"""

from __future__ import annotations

import sys
import uuid

import anyio

from letta_actors import ActorSystem
from letta_actors.demo.content_team import (
    CHIEF_DESCRIPTION,
    CHIEF_PERSONA,
    ROLES,
    scripted_rules,
    system_prompt,
)
from letta_actors.letta import AgentOptions, AgentSpec, LettaAgent, LettaConnection
from letta_actors.localstack import LettaEnvironment, letta_environment
from letta_actors.patterns.orchestrator import (
    Orchestrator,
    OrchestratorAgent,
    OrchestratorResult,
    OrchestratorSpec,
)


def team_specs(env: LettaEnvironment, token: str) -> tuple[AgentSpec, dict[str, AgentSpec]]:
    """The chief's spec and each specialist's, named and tagged with ``token``."""

    def spec(role: str, description: str | None, persona: str) -> AgentSpec:
        return AgentSpec(
            name=f"content-{role}-{token}",
            system=system_prompt(token, role),
            description=description,
            persona=persona,
            model=env.model,
            embedding=env.embedding,
            tags=("example", "content-team", token),
        )

    chief = spec("chief", CHIEF_DESCRIPTION, CHIEF_PERSONA)
    specialists = {
        role: spec(role, description, persona) for role, (description, persona) in ROLES.items()
    }
    return chief, specialists


async def build_content_team(
    system: ActorSystem, conn: LettaConnection, env: LettaEnvironment, token: str
) -> Orchestrator:
    """Spawn the chief and its specialists in ``system``, link them, return the runner."""
    chief, specialists = team_specs(env, token)
    for role, agent_spec in specialists.items():
        await system.spawn(LettaAgent.factory(agent_spec, conn), name=role)
    options = AgentOptions(tool_timeout=400)  # a delegation round may take a while
    await system.spawn(OrchestratorAgent.factory(chief, conn, options=options), name="chief")
    spec = OrchestratorSpec(
        name="content-team",
        orchestrator="chief",
        specialists=tuple(specialists),
        max_rounds=3,
        max_delegations=6,
        delegation_timeout=300,
        timeout=900,
    )
    orchestrator = Orchestrator(system, spec)
    orchestrator.link_team()
    return orchestrator


def script_llm(env: LettaEnvironment, token: str) -> None:
    """Local stack only: script what the chief decides and what each specialist answers."""
    assert env.stack is not None
    env.stack.admin.set_rules(scripted_rules(token))


def print_record(result: OrchestratorResult) -> None:
    print(f"run {result.run_id}: {result.status} in {result.duration:.2f} s")
    for step in result.plan:
        assigned = ", ".join(a.specialist for a in step.assignments)
        print(
            f"  plan {step.round}: {assigned} ({step.rationale or 'no rationale'})"
            + (f" REFUSED: {step.refused}" if step.refused else "")
        )
    for d in result.delegations:
        label, outcome = ("answer", d.answer) if d.status == "ok" else ("error", d.error)
        print(
            f"  #{d.id} {d.from_agent} -> {d.to} [{d.status}, {d.latency:.2f} s, "
            f"{d.usage.total_tokens} tokens]"
        )
        print(f"     task: {d.task[:100]}\n     {label}: {str(outcome)[:160]}")
    print("  tokens per agent:")
    for agent, usage in result.usage.items():
        print(
            f"    {agent}: {usage.total_tokens} ({usage.prompt_tokens} prompt, "
            f"{usage.completion_tokens} completion)"
        )
    print(f"answer: {result.answer}")
    print("\n```mermaid\n" + result.to_mermaid() + "\n```")


async def main(topic: str = "sea otters") -> OrchestratorResult:
    token = uuid.uuid4().hex[:8]
    with letta_environment() as env:
        if env.scripted:
            script_llm(env, token)
        # env.connect(cleanup_tag=...) deletes the example's agents on the way out
        async with (
            env.connect(cleanup_tag=token) as conn,
            ActorSystem(enforce_links=True) as system,
        ):
            orchestrator = await build_content_team(system, conn, env, token)
            result = await orchestrator.run(topic)
            print_record(result)
    return result


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "sea otters")
