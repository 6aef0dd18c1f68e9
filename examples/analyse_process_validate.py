"""The tutorial's pipeline: analyse -> process -> validate, three Letta agents in a row.

Run: ``python examples/analyse_process_validate.py``. Without ``LETTA_BASE_URL`` it runs on the
local stack (scripted LLM + a real Letta server; the first start installs Letta); with
``LETTA_BASE_URL`` (and ``LETTA_MODEL``) the same team runs on that server and model.
"""

from __future__ import annotations

import uuid

import anyio

from letta_actors import ActorSystem
from letta_actors.letta import AgentSpec, LettaAgent
from letta_actors.localstack import LettaEnvironment, Rule, TextReply, letta_environment
from letta_actors.patterns import Pipeline, PipelineSpec, Stage

ROLES = {
    "analyser": "You analyse raw data and list the key findings.",
    "processor": "You turn findings into a short, structured summary.",
    "validator": "You check a summary for errors and answer with the corrected version.",
}

SPEC = PipelineSpec(
    name="analyse-process-validate",
    stages=(
        Stage(name="analyse", actor="analyser", timeout=300),
        Stage(name="process", actor="processor", timeout=300, retries=1),
        Stage(name="validate", actor="validator", timeout=300),
    ),
)


def script(env: LettaEnvironment, token: str) -> None:
    """On the local stack, tell the scripted LLM what each agent says."""
    assert env.stack is not None
    env.stack.admin.set_rules(
        [
            Rule(
                system_contains=f"{role} {token}",
                reply=TextReply(text=f"{role}: {{last_user_message}}"),
            )
            for role in ROLES
        ]
    )


async def main() -> None:
    token = uuid.uuid4().hex[:8]
    with letta_environment() as env:
        if env.scripted:
            script(env, token)
        # env.connect(cleanup_tag=...) deletes the example's agents on the way out
        async with (
            env.connect(cleanup_tag=token) as conn,
            ActorSystem() as system,
        ):
            for role, duty in ROLES.items():
                spec = AgentSpec(
                    name=f"example-{role}-{token}",
                    system=f"You are the {role} {token}. {duty}",
                    model=env.model,
                    embedding=env.embedding,
                    tags=("example", token),
                )
                await system.spawn(LettaAgent.factory(spec, conn), name=role)
            result = await Pipeline(system, SPEC).run("Q3 sales: 120 units, 3 returns", timeout=900)
            for stage in result.stages:
                print(f"{stage.name:>9} [{stage.status}] {stage.output}")
            print(f"status: {result.status}, tokens: {result.total_usage.total_tokens}")
            print(result.to_mermaid())


if __name__ == "__main__":
    anyio.run(main)
