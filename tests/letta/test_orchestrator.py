"""The hub-and-spoke orchestrator against the real Letta server (scripted LLM).

The scripted rules decide whom the orchestrator delegates to; the tests assert routing and
structure (who was asked what, statuses, usage, events, the diagram), not wording.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from pydantic import ValidationError

from letta_actors import ActorSystem
from letta_actors.letta import ASK_AGENT, AgentOptions, LettaAgent, LettaConnection, LettaStats
from letta_actors.localstack import (
    AsyncScriptedLLMAdmin,
    ErrorReply,
    LocalStack,
    Rule,
    ScriptedLLMAdmin,
    TextReply,
    ToolCall,
)
from letta_actors.localstack import ToolCallsReply as Calls
from letta_actors.patterns import RunControl, RunStatus
from letta_actors.patterns.orchestrator import (
    DELEGATE,
    Orchestrator,
    OrchestratorAgent,
    OrchestratorResult,
    OrchestratorSpec,
)

from .agent_fixtures import letta_conn, marker, spec_for

__all__ = ["letta_conn"]

DESCRIPTIONS = {
    "researcher": "Finds facts and sources on a topic.",
    "writer": "Turns notes into a clear draft.",
}


def delegate(*pairs: tuple[str, str], plan: str = "split the work") -> Calls:
    """A scripted ``delegate`` call handing each (specialist, task) pair out in ONE call."""
    items = [{"specialist": s, "task": t} for s, t in pairs]
    return Calls(calls=[ToolCall(name=DELEGATE, arguments={"delegations": items, "plan": plan})])


def boss_rules(token: str, first: Calls) -> list[Rule]:
    """The orchestrator delegates with ``first``, then answers with the tool result."""
    boss = marker(token, "boss")
    return [
        Rule(name="boss-plan", system_contains=boss, last_role="user", reply=first),
        Rule(
            name="boss-final",
            system_contains=boss,
            last_role="tool",
            reply=TextReply(text="FINAL {last_message_text}"),
        ),
    ]


def answers(token: str, role: str, *, latency: float = 0.0) -> Rule:
    return Rule(
        name=f"{role}-answers",
        system_contains=marker(token, role),
        last_role="user",
        latency_seconds=latency,
        reply=TextReply(text=f"{role.upper()} DONE: {{last_message}}"),
    )


@dataclass
class Team:
    system: ActorSystem
    orchestrator: Orchestrator


@pytest.fixture
async def team_factory(
    letta_conn: LettaConnection, letta_stack: LocalStack, agent_token: str
) -> AsyncIterator[Any]:
    """Builds boss + specialists in the test's system (``enforce_links``), stopped afterwards."""
    async with ActorSystem(enforce_links=True) as system:

        async def build(
            specialists: tuple[str, ...] = ("researcher", "writer"),
            *,
            extra: tuple[str, ...] = (),
            **spec: Any,
        ) -> Team:
            for role in (*specialists, *extra):
                agent_spec = spec_for(
                    letta_stack, agent_token, role, description=DESCRIPTIONS.get(role)
                )
                await system.spawn(LettaAgent.factory(agent_spec, letta_conn), name=role)
            boss_spec = spec_for(letta_stack, agent_token, "boss")
            options = AgentOptions(tool_timeout=300)
            await system.spawn(
                OrchestratorAgent.factory(boss_spec, letta_conn, options=options), name="boss"
            )
            settings = OrchestratorSpec(
                orchestrator="boss", specialists=specialists, settle_timeout=30, **spec
            )
            orchestrator = Orchestrator(system, settings)
            orchestrator.link_team()
            return Team(system, orchestrator)

        yield build


def tool_offered(admin: ScriptedLLMAdmin, token: str) -> dict[str, Any]:
    """The ``delegate`` tool as offered in the orchestrator's first LLM request."""
    boss = marker(token, "boss")
    requests = [r for r in admin.requests(include_body=True) if r.view and boss in r.view.system]
    assert requests
    tools = {t["function"]["name"]: t["function"] for t in requests[0].body["tools"]}
    assert ASK_AGENT not in tools  # peers are reached through delegate only
    function: dict[str, Any] = tools[DELEGATE]
    return function


def asked(admin: ScriptedLLMAdmin, token: str, role: str) -> int:
    """How many LLM requests agent ``role`` made."""
    m = marker(token, role)
    return sum(1 for r in admin.requests(include_body=False) if r.view and m in r.view.system)


def check_common(result: OrchestratorResult) -> None:
    assert result.pattern == "orchestrator:orchestrator"
    assert result.orchestrator == "boss"
    assert result.run_id
    assert [e.seq for e in result.events] == list(range(len(result.events)))
    for d in result.delegations:
        assert d.from_agent == "boss"


# -- no server ------------------------------------------------------------------------------


def test_spec_validation() -> None:
    spec = OrchestratorSpec(orchestrator="boss", specialists=("a", "b"), max_parallel=2)
    assert spec.policy.max_parallel == 2
    assert OrchestratorSpec.model_validate_json(spec.model_dump_json()) == spec
    with pytest.raises(ValidationError):
        OrchestratorSpec(orchestrator="boss", specialists=())
    with pytest.raises(ValidationError):
        OrchestratorSpec(orchestrator="boss", specialists=("a", "a"))
    with pytest.raises(ValidationError):
        OrchestratorSpec(orchestrator="boss", specialists=("boss",))
    with pytest.raises(ValidationError):
        OrchestratorSpec(orchestrator="boss", specialists=("a",), delegation_timeout=0)


# -- against the server ---------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.letta
async def test_parallel_delegation_and_synthesis(
    team_factory: Any, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    first = delegate(
        ("researcher", "Collect facts about otters."),
        ("writer", "Draft an intro about otters."),
        plan="research and draft at once",
    )
    scripted_llm.set_rules(
        [
            *boss_rules(agent_token, first),
            answers(agent_token, "researcher", latency=1.5),
            answers(agent_token, "writer", latency=1.5),
        ]
    )
    team: Team = await team_factory()
    assert team.orchestrator.specialists() == DESCRIPTIONS
    with anyio.fail_after(120):
        result = await team.orchestrator.run("Write about otters.", timeout=100)

    check_common(result)
    assert result.status is RunStatus.COMPLETED, result.error
    assert not result.partial
    assert [(d.to, d.task, d.status, d.round) for d in result.delegations] == [
        ("researcher", "Collect facts about otters.", "ok", 1),
        ("writer", "Draft an intro about otters.", "ok", 1),
    ]
    assert result.delegations[0].answer == "RESEARCHER DONE: Collect facts about otters."
    assert result.delegations[1].answer == "WRITER DONE: Draft an intro about otters."
    assert len({d.tool_call_id for d in result.delegations}) == 1  # one delegate call
    # Both answers came back together as the tool result, then the final synthesis.
    assert result.answer is not None and result.answer.startswith("FINAL ")
    tool_result = json.loads(result.answer.removeprefix("FINAL "))
    assert [(r["specialist"], r["status"], r["answer"]) for r in tool_result] == [
        (d.to, "ok", d.answer) for d in result.delegations
    ]
    # The plan.
    [step] = result.plan
    assert step.round == 1 and step.refused is None
    assert step.rationale == "research and draft at once"
    assert [a.specialist for a in step.assignments] == ["researcher", "writer"]
    assert result.delegated_to() == {
        "researcher": ["Collect facts about otters."],
        "writer": ["Draft an intro about otters."],
    }
    # They ran concurrently (each specialist is its own actor).
    a, b = result.delegations
    assert a.started_at < b.started_at + b.latency and b.started_at < a.started_at + a.latency
    assert scripted_llm.stats().peak_in_flight >= 2
    # Usage per agent, per delegation.
    assert set(result.usage) == {"boss", "researcher", "writer"}
    for name, usage in result.usage.items():
        assert usage.total_tokens > 0, name
    for d in result.delegations:
        assert d.usage.total_tokens > 0 and d.usage == result.usage[d.to]
        assert d.latency >= 1.5
    assert result.usage["boss"].steps >= 2
    # The conversation log, in order.
    log = [(e.kind, e.source, e.target) for e in result.events]
    assert log[0] == ("request", "run", "boss")
    assert log[1] == ("note", "boss", None)
    assert sorted(log[2:4]) == [("request", "boss", "researcher"), ("request", "boss", "writer")]
    assert sorted(log[4:6]) == [("reply", "researcher", "boss"), ("reply", "writer", "boss")]
    assert log[6] == ("reply", "boss", "run")
    assert len(log) == 7
    # The diagram.
    diagram = result.to_mermaid()
    assert diagram.startswith("sequenceDiagram")
    for line in (
        "run->>boss",
        "boss->>researcher",
        "boss->>writer",
        "researcher-->>boss",
        "writer-->>boss",
        "boss-->>run",
        "Note over boss: note: plan 1",
    ):
        assert line in diagram, line
    # The offered tool: linked specialists as an enum, descriptions from the team definition.
    tool = tool_offered(scripted_llm, agent_token)
    specialist = tool["parameters"]["properties"]["delegations"]["items"]["properties"]
    assert specialist["specialist"]["enum"] == ["researcher", "writer"]
    for name, text in DESCRIPTIONS.items():
        assert f"- {name}: {text}" in tool["description"]


@pytest.mark.anyio
@pytest.mark.letta
async def test_failing_specialist_is_recorded_and_the_orchestrator_still_answers(
    team_factory: Any, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    first = delegate(("researcher", "Find facts."), ("writer", "Write it."))
    scripted_llm.set_rules(
        [
            *boss_rules(agent_token, first),
            answers(agent_token, "researcher"),
            Rule(
                system_contains=marker(agent_token, "writer"),
                reply=ErrorReply(status=400, message="writer is broken"),
            ),
        ]
    )
    team: Team = await team_factory()
    with anyio.fail_after(120):
        result = await team.orchestrator.run("Do it.", timeout=100)

    check_common(result)
    assert result.status is RunStatus.PARTIAL
    assert result.partial
    ok, failed = result.delegations
    assert (ok.to, ok.status, ok.error) == ("researcher", "ok", None)
    assert (failed.to, failed.status, failed.answer) == ("writer", "error", None)
    assert failed.error is not None and "LettaRequestFailed" in failed.error
    assert result.answer is not None
    tool_result = json.loads(result.answer.removeprefix("FINAL "))
    assert [(r["specialist"], r["status"]) for r in tool_result] == [
        ("researcher", "ok"),
        ("writer", "error"),
    ]
    assert "writer" not in result.usage  # it spent nothing we know of
    assert {"boss", "researcher"} <= set(result.usage)
    assert ("error", "writer", "boss") in [(e.kind, e.source, e.target) for e in result.events]
    assert "writer--xboss" in result.to_mermaid()


@pytest.mark.anyio
@pytest.mark.letta
async def test_slow_specialist_times_out(
    team_factory: Any, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    first = delegate(("researcher", "Quick facts."), ("writer", "Slow draft."))
    scripted_llm.set_rules(
        [
            *boss_rules(agent_token, first),
            answers(agent_token, "researcher"),
            answers(agent_token, "writer", latency=60),
        ]
    )
    team: Team = await team_factory(delegation_timeout=3)
    with anyio.fail_after(120):
        result = await team.orchestrator.run("Do it.", timeout=100)

    check_common(result)
    assert result.status is RunStatus.PARTIAL
    ok, slow = result.delegations
    assert ok.status == "ok"
    assert (slow.to, slow.status) == ("writer", "timeout")
    assert slow.error is not None
    assert 3 <= slow.latency < 20
    assert result.answer is not None and '"status": "timeout"' in result.answer
    assert ("timeout", "writer", "boss") in [(e.kind, e.source, e.target) for e in result.events]


@pytest.mark.anyio
@pytest.mark.letta
async def test_unlinked_and_unknown_specialists_are_refused(
    team_factory: Any, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    first = delegate(("intruder", "Leak the plan."), ("ghost", "Haunt."), ("writer", "Write."))
    scripted_llm.set_rules(
        [
            *boss_rules(agent_token, first),
            answers(agent_token, "writer"),
            answers(agent_token, "intruder"),
        ]
    )
    # "intruder" is a live agent, but not one of the boss's (linked) specialists.
    team: Team = await team_factory(("writer",), extra=("intruder",))
    with anyio.fail_after(120):
        result = await team.orchestrator.run("Do it.", timeout=100)

    check_common(result)
    assert result.status is RunStatus.PARTIAL
    assert [(d.to, d.status) for d in result.delegations] == [
        ("intruder", "refused"),
        ("ghost", "refused"),
        ("writer", "refused"),
    ]
    [step] = result.plan
    assert step.refused is not None and "'ghost', 'intruder'" in step.refused
    # The orchestrator got a tool error naming who it may delegate to, and still answered.
    assert result.answer is not None
    assert "refused" in result.answer and "you can: writer" in result.answer
    assert asked(scripted_llm, agent_token, "intruder") == 0
    assert asked(scripted_llm, agent_token, "writer") == 0
    assert result.delegated_to() == {}
    assert set(result.usage) == {"boss"}
    tool = tool_offered(scripted_llm, agent_token)
    items = tool["parameters"]["properties"]["delegations"]["items"]["properties"]
    assert items["specialist"]["enum"] == ["writer"]


@pytest.mark.anyio
@pytest.mark.letta
async def test_round_limit(
    team_factory: Any, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    boss = marker(agent_token, "boss")
    again = delegate(("writer", "One more pass."))
    scripted_llm.set_rules(
        [
            Rule(system_contains=boss, last_role="user", reply=again),
            Rule(
                system_contains=boss,
                last_role="tool",
                last_message_contains="refused",
                reply=TextReply(text="STOPPED {last_message_text}"),
            ),
            Rule(system_contains=boss, last_role="tool", reply=again),
            answers(agent_token, "writer"),
        ]
    )
    team: Team = await team_factory(("writer",), max_rounds=2)
    with anyio.fail_after(120):
        result = await team.orchestrator.run("Polish it.", timeout=100)

    check_common(result)
    assert [(d.round, d.status) for d in result.delegations] == [
        (1, "ok"),
        (2, "ok"),
        (3, "refused"),
    ]
    assert [s.refused is not None for s in result.plan] == [False, False, True]
    assert result.answer is not None and "delegation limit reached" in result.answer
    assert result.status is RunStatus.PARTIAL
    assert asked(scripted_llm, agent_token, "writer") == 2


@pytest.mark.anyio
@pytest.mark.letta
async def test_run_deadline_returns_a_partial_record(
    team_factory: Any, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    first = delegate(("researcher", "Quick facts."), ("writer", "Endless draft."))
    writer = marker(agent_token, "writer")
    scripted_llm.set_rules(
        [
            *boss_rules(agent_token, first),
            answers(agent_token, "researcher"),
            Rule(
                system_contains=writer,
                last_role="user",
                last_message_contains="Endless",
                latency_seconds=60,
                reply=TextReply(text="too late"),
            ),
            answers(agent_token, "writer"),
        ]
    )
    team: Team = await team_factory(delegation_timeout=None)
    with anyio.fail_after(60):
        result = await team.orchestrator.run("Do it.", timeout=6)

    check_common(result)
    assert result.status is RunStatus.TIMED_OUT
    assert result.partial
    assert result.answer is None
    assert 6 <= result.duration < 15
    ok, cut = result.delegations
    assert (ok.to, ok.status) == ("researcher", "ok")
    assert (cut.to, cut.status) == ("writer", "cancelled")
    assert result.events[-1].kind == "timeout" and result.events[-1].source == "run"
    assert ("cancelled", "writer", "boss") in [(e.kind, e.source, e.target) for e in result.events]
    # Tokens spent before the deadline are kept: the orchestrator's first round, the researcher.
    assert result.usage["boss"].total_tokens > 0
    assert result.usage["researcher"].total_tokens > 0
    assert "timed_out" in result.to_mermaid()
    # The writer's in-flight Letta request was cancelled (its next message shows it finished).
    with anyio.fail_after(60):
        reply = await team.system.bus.ask("writer", "Are you free?", timeout=60)
    assert reply.text == "WRITER DONE: Are you free?"
    cell = team.system.cell("writer")
    assert cell is not None
    letta = LettaStats.of(cell.stats)
    assert letta is not None
    assert letta.requests["cancelled"] >= 1


@pytest.mark.anyio
@pytest.mark.letta
async def test_cancel_from_outside(
    team_factory: Any,
    scripted_llm: ScriptedLLMAdmin,
    letta_stack: LocalStack,
    agent_token: str,
) -> None:
    first = delegate(("researcher", "Slow facts."))
    scripted_llm.set_rules(
        [*boss_rules(agent_token, first), answers(agent_token, "researcher", latency=60)]
    )
    team: Team = await team_factory(("researcher",))
    control = RunControl()
    results: list[OrchestratorResult] = []

    async def run() -> None:
        results.append(await team.orchestrator.run("Do it.", timeout=100, control=control))

    async with AsyncScriptedLLMAdmin(letta_stack.llm_root_url) as admin:
        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                # The orchestrator's request is done and the researcher's is in flight.
                waited = await admin.wait(
                    chat_requests_at_least=2, in_flight_at_least=1, wait_seconds=60
                )
                assert waited.satisfied
                control.cancel()
    [result] = results
    check_common(result)
    assert control.cancelled
    assert result.status is RunStatus.CANCELLED
    assert result.answer is None
    [d] = result.delegations
    assert (d.to, d.status) == ("researcher", "cancelled")
    assert result.events[-1].kind == "cancelled"
    assert result.duration < 30
    assert result.usage["boss"].total_tokens > 0  # its first round, though it never answered
    assert "researcher" not in result.usage
