"""Pipeline, fan-out and monitoring with real Letta agents (scripted LLM)."""

from __future__ import annotations

import anyio
import pytest

from letta_actors import ActorSystem
from letta_actors.letta import LettaAgent, LettaConnection, LettaStats
from letta_actors.localstack import (
    AsyncScriptedLLMAdmin,
    ErrorReply,
    LocalStack,
    Rule,
    ScriptedLLMAdmin,
    TextReply,
)
from letta_actors.patterns import (
    FanOut,
    Pipeline,
    PipelineSpec,
    RunControl,
    RunStatus,
    Stage,
)
from letta_actors.patterns.monitoring import health_check, team_report

from .agent_fixtures import letta_conn, marker, spec_for

pytestmark = [pytest.mark.anyio, pytest.mark.letta]
__all__ = ["letta_conn"]


async def spawn_agents(
    system: ActorSystem, conn: LettaConnection, stack: LocalStack, token: str, *roles: str
) -> None:
    for role in roles:
        await system.spawn(LettaAgent.factory(spec_for(stack, token, role), conn), name=role)


async def test_analyse_process_validate_pipeline(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
    agent_token: str,
) -> None:
    scripted_llm.set_rules(
        [
            Rule(system_contains=marker(agent_token, "analyser"),
                 reply=TextReply(text="analysis({last_user_message})")),
            Rule(system_contains=marker(agent_token, "processor"),
                 reply=TextReply(text="processed({last_user_message})")),
            Rule(system_contains=marker(agent_token, "validator"),
                 reply=TextReply(text="valid({last_user_message})")),
        ]
    )  # fmt: skip
    async with ActorSystem() as system:
        await spawn_agents(system, letta_conn, letta_stack, agent_token,
                           "analyser", "processor", "validator")  # fmt: skip
        spec = PipelineSpec(
            name="apv",
            stages=(
                Stage(name="analyse", actor="analyser"),
                Stage(name="process", actor="processor"),
                Stage(name="validate", actor="validator"),
            ),
        )
        result = await Pipeline(system, spec).run("sales data", timeout=120)
    assert result.status is RunStatus.COMPLETED, result.error
    assert [s.status for s in result.stages] == ["ok", "ok", "ok"]
    assert result.output == "valid(processed(analysis(sales data)))"
    assert set(result.usage) == {"analyser", "processor", "validator"}
    assert all(u.total_tokens > 0 for u in result.usage.values())


async def test_parallel_analysts_with_a_failing_one(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
    agent_token: str,
) -> None:
    scripted_llm.set_rules(
        [
            Rule(system_contains=marker(agent_token, "technical"),
                 reply=TextReply(text="technical view")),
            Rule(system_contains=marker(agent_token, "business"),
                 reply=TextReply(text="business view")),
            Rule(system_contains=marker(agent_token, "design"),
                 reply=ErrorReply(status=400, message="bad request")),
        ]
    )  # fmt: skip
    async with ActorSystem() as system:
        await spawn_agents(system, letta_conn, letta_stack, agent_token,
                           "technical", "business", "design")  # fmt: skip
        tasks = [
            (role, role, "Review the proposal.") for role in ("technical", "business", "design")
        ]
        result = await FanOut.of(system, tasks, concurrency=3, task_timeout=120).run(timeout=180)
        report = team_report(system)
        health = await health_check(system, timeout=10)
    assert result.status is RunStatus.PARTIAL
    statuses = {r.id: r.status for r in result.results}
    assert statuses == {"technical": "ok", "business": "ok", "design": "error"}
    assert result.answers() == {"technical": "technical view", "business": "business view"}
    technical = report.agent("technical")
    assert technical.handled == 1 and technical.errors == 0
    assert (technical.prompt_tokens or 0) > 0
    assert report.agent("design").errors == 1
    assert health.healthy, health
    assert [p.target for p in health.agents] == ["business", "design", "technical"]
    assert len(health.servers) == 1 and health.servers[0].ok


async def test_run_deadline_cancels_the_letta_request_in_flight(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
    agent_token: str,
) -> None:
    scripted_llm.set_rules(
        [Rule(system_contains=marker(agent_token, "slow"), latency_seconds=60,
              reply=TextReply(text="too late"))]
    )  # fmt: skip
    control = RunControl()
    async with ActorSystem() as system:
        await spawn_agents(system, letta_conn, letta_stack, agent_token, "slow")
        spec = PipelineSpec(stages=(Stage(name="only", actor="slow"),))

        admin = AsyncScriptedLLMAdmin(letta_stack.llm_root_url)

        async def cancel_when_the_llm_is_busy() -> None:
            waited = await admin.wait(in_flight_at_least=1, wait_seconds=60)
            assert waited.satisfied
            control.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_the_llm_is_busy)
            result = await Pipeline(system, spec).run("hello", control=control, timeout=120)
        assert result.status is RunStatus.CANCELLED
        assert result.stages[0].status == "cancelled"
        stats = LettaStats.of(system.cell("slow").stats)  # type: ignore[union-attr]
        assert stats is not None
        with anyio.fail_after(30):  # the actor handles the abandonment in its own task
            while stats.requests["cancelled"] < 1:
                await anyio.lowlevel.checkpoint()
