"""Two linked Letta agents: ``planner`` asks ``expert`` through the ``ask_agent`` tool.

Run: ``python examples/letta_pair.py``. Without ``LETTA_BASE_URL`` it starts (or reuses) the
local stack (scripted LLM + Letta 0.16.8; the first start installs Letta) and scripts the LLM
so that the planner calls the tool. With ``LETTA_BASE_URL`` (and ``LETTA_MODEL``,
``LETTA_EMBEDDING``) it uses that server and a real model, which decides on its own.
"""

from __future__ import annotations

import os
import uuid
from contextlib import ExitStack

import anyio

from letta_actors import ActorSystem
from letta_actors.letta import ASK_AGENT, AgentSpec, LettaAgent, LettaConnection


def script_llm(stack: object, token: str) -> None:
    from letta_actors.localstack import LocalStack, Rule, TextReply, ToolCall, ToolCallsReply

    assert isinstance(stack, LocalStack)
    stack.admin.set_rules(
        [
            Rule(
                system_contains=f"planner {token}",
                last_role="user",
                reply=ToolCallsReply(
                    calls=[
                        ToolCall(
                            name=ASK_AGENT,
                            arguments={"peer": "expert", "message": "{last_message}"},
                        )
                    ]
                ),
            ),
            Rule(
                system_contains=f"planner {token}",
                last_role="tool",
                reply=TextReply(text="The expert says: {last_message_text}"),
            ),
            Rule(
                system_contains=f"expert {token}",
                reply=TextReply(text="Boil the water first, then add the pasta."),
            ),
        ]
    )


async def main() -> None:
    token = uuid.uuid4().hex[:8]
    with ExitStack() as stack_scope:
        base_url = os.environ.get("LETTA_BASE_URL")
        model = os.environ.get("LETTA_MODEL")
        embedding = os.environ.get("LETTA_EMBEDDING")
        if base_url is None:
            from letta_actors.localstack import LocalStack

            stack = stack_scope.enter_context(LocalStack())
            base_url, model, embedding = (
                stack.letta_base_url,
                stack.model_handle,
                stack.embedding_handle,
            )
            script_llm(stack, token)

        def spec(role: str, persona: str) -> AgentSpec:
            return AgentSpec(
                name=f"example-{role}-{token}",
                system=f"You are the {role} {token}. Use ask_agent to consult your peers.",
                persona=persona,
                model=model,
                embedding=embedding,
                tags=("example",),
            )

        async with LettaConnection(base_url=base_url, max_in_flight=4) as conn:
            async with ActorSystem(enforce_links=True) as system:
                await system.spawn(
                    LettaAgent.factory(spec("expert", "A cooking expert."), conn), name="expert"
                )
                planner = await system.spawn(
                    LettaAgent.factory(spec("planner", "Plans meals."), conn), name="planner"
                )
                system.bus.link("planner", "expert")
                reply = await planner.ask("How do I cook pasta?", timeout=300)
                print("planner:", reply.text)
                for call in reply.tool_calls:
                    print(f"  tool {call.name}({call.arguments}) -> {call.status}: {call.result}")
                print("  usage:", reply.usage.model_dump(), f"latency {reply.latency:.2f} s")
                ids = [
                    reply.agent_id,
                    (await system.ref("expert").ask("bye", timeout=300)).agent_id,
                ]
            for agent_id in ids:  # the example cleans up after itself
                await conn.client.agents.delete(agent_id)


if __name__ == "__main__":
    anyio.run(main)
