"""The ``delegate`` tool: an orchestrator agent hands tasks to linked specialists.

The tool runs inside the orchestrator actor's ``receive`` (Letta's client-tool protocol), so the
asks it makes carry the orchestrator as sender and the right call chain. Several delegations in
one call run concurrently (a task group; each specialist is its own actor). The tool reports to
a :class:`~._ledger.DelegationLedger` (``_report``): when the message being handled is an
:class:`~._ledger.OrchestratorBrief` (sent by an orchestrator run), that is the run's, and every
delegation is recorded into the run's record as it happens.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ToolError
from ..letta import LettaAgent
from ..usage import Usage
from ._ledger import DELEGATE, Assignment, Delegation, DelegationLedger, DelegationStatus, PlanStep
from ._outputs import output_text
from ._report import report_tool
from ._tracing import step

if TYPE_CHECKING:
    from ..letta import ClientTool, ToolContext
    from ..system import ActorSystem

#: Shown for a specialist whose team definition has no description.
NO_DESCRIPTION = "(no description)"


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="ignore")

    delegations: list[Assignment] = Field(min_length=1)
    plan: str | None = None


def describe(system: ActorSystem, name: str) -> str:
    """The description of actor ``name`` from its team definition (``AgentSpec.description``
    for a Letta agent, else a ``description`` attribute), or :data:`NO_DESCRIPTION`."""
    info = system.info(name)
    instance = info.actor if info is not None else None
    text: Any = None
    if isinstance(instance, LettaAgent):
        text = instance.spec.description
    elif info is not None:
        text = info.description
    return " ".join(text.split()) if isinstance(text, str) and text.strip() else NO_DESCRIPTION


def delegate_tool(agent: LettaAgent, ledger: DelegationLedger) -> ClientTool | None:
    """The ``delegate`` tool for ``agent``, over the specialists ``ledger`` allows and the
    agent is linked to (``None`` when there is none). Its JSON schema lists them (enum) and its
    description gives each one's description from the team definition."""
    names = ledger.available(agent.system)
    if not names:
        return None
    policy = ledger.policy
    roster = "\n".join(f"- {name}: {describe(agent.system, name)}" for name in names)
    description = (
        "Delegate tasks to specialist agents and get their answers back. Put every "
        "(specialist, task) pair you need now in ONE call: they work in parallel and all "
        "answers come back together as this tool's result (a JSON list). Each task must be "
        "self-contained: specialists do not see your conversation. "
        f"At most {policy.max_parallel} pairs per call, {policy.max_delegations} in total, "
        f"{policy.max_rounds} calls.\nSpecialists:\n{roster}"
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "delegations": {
                "type": "array",
                "minItems": 1,
                "maxItems": policy.max_parallel,
                "description": "the (specialist, task) pairs to run in parallel",
                "items": {
                    "type": "object",
                    "properties": {
                        "specialist": {
                            "type": "string",
                            "enum": names,
                            "description": "who does it: "
                            + "; ".join(f"{n}: {describe(agent.system, n)}" for n in names),
                        },
                        "task": {
                            "type": "string",
                            "description": "what the specialist should do (self-contained)",
                        },
                    },
                    "required": ["specialist", "task"],
                },
            },
            "plan": {
                "type": "string",
                "description": "your plan in one or two sentences: why these specialists, "
                "what happens next",
            },
        },
        "required": ["delegations"],
    }

    return report_tool(ledger, DELEGATE, description, parameters, _delegate)


async def _delegate(ledger: DelegationLedger, ctx: ToolContext, **arguments: Any) -> str:
    agent = ctx.agent
    if ledger.closed:
        raise ToolError("the run is over; answer with what you have")
    round_no = len(ledger.plan) + 1
    try:
        parsed = _Arguments.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        _refuse(ledger, round_no, None, [], ctx.tool_call_id, f"invalid arguments: {problems}")
        raise ToolError(f"invalid arguments: {problems}") from None
    assignments, policy = parsed.delegations, ledger.policy
    available = ledger.available(agent.system)
    unknown = sorted({a.specialist for a in assignments if a.specialist not in available})
    reason: str | None = None
    if unknown:
        reason = (
            f"refused: {', '.join(map(repr, unknown))} "
            f"{'is not a specialist' if len(unknown) == 1 else 'are not specialists'} you can "
            f"delegate to (you can: {', '.join(available) or 'nobody'})"
        )
    elif round_no > policy.max_rounds:
        reason = f"refused: delegation limit reached ({policy.max_rounds} calls); answer now"
    elif len(assignments) > policy.max_parallel:
        reason = f"refused: at most {policy.max_parallel} delegations per call"
    else:
        used = sum(d.status != "refused" for d in ledger.delegations)
        if used + len(assignments) > policy.max_delegations:
            left = policy.max_delegations - used
            reason = (
                f"refused: at most {policy.max_delegations} delegations in total "
                f"({left} left); answer with what you have"
            )
    if reason is not None:
        _refuse(ledger, round_no, parsed.plan, assignments, ctx.tool_call_id, reason)
        raise ToolError(reason)

    ledger.plan.append(PlanStep(round=round_no, rationale=parsed.plan, assignments=assignments))
    note = ", ".join(a.specialist for a in assignments)
    ledger.event(
        "note",
        ledger.orchestrator,
        None,
        f"plan {round_no}: {note}" + (f" ({parsed.plan})" if parsed.plan else ""),
    )
    batch = [
        Delegation(
            id=len(ledger.delegations) + i + 1,
            round=round_no,
            tool_call_id=ctx.tool_call_id,
            from_agent=ledger.orchestrator,
            to=a.specialist,
            task=a.task,
        )
        for i, a in enumerate(assignments)
    ]
    ledger.delegations.extend(batch)
    async with anyio.create_task_group() as tg:
        for delegation in batch:
            tg.start_soon(_one, agent, ledger, delegation)
    return json.dumps([_tool_result(d) for d in batch], ensure_ascii=False)


def _refuse(
    ledger: DelegationLedger,
    round_no: int,
    rationale: str | None,
    assignments: list[Assignment],
    tool_call_id: str,
    reason: str,
) -> None:
    ledger.plan.append(
        PlanStep(round=round_no, rationale=rationale, assignments=assignments, refused=reason)
    )
    for a in assignments:
        ledger.delegations.append(
            Delegation(
                id=len(ledger.delegations) + 1,
                round=round_no,
                tool_call_id=tool_call_id,
                from_agent=ledger.orchestrator,
                to=a.specialist,
                task=a.task,
                status="refused",
                error=reason,
                started_at=round(ledger.now(), 6),
            )
        )
    ledger.event("note", ledger.orchestrator, None, f"delegate {round_no}: {reason}")


def _tool_result(delegation: Delegation) -> dict[str, Any]:
    out: dict[str, Any] = {"specialist": delegation.to, "status": delegation.status}
    if delegation.status == "ok":
        out["answer"] = delegation.answer
    else:
        out["error"] = delegation.error
    return out


async def _one(agent: LettaAgent, ledger: DelegationLedger, delegation: Delegation) -> None:
    """Ask one specialist, recording the outcome into ``delegation`` (and the run's events)."""
    source, target = delegation.from_agent, delegation.to
    timeout = ledger.policy.delegation_timeout
    delegation.started_at = round(ledger.now(), 6)
    ledger.event("request", source, target, delegation.task)
    started = time.monotonic()
    outcome: tuple[DelegationStatus, Any]
    try:
        with step(agent.system, ledger.run.record if ledger.run else None, "delegate", source,
                  target):  # fmt: skip
            reply = await agent.ask(target, delegation.task, timeout=timeout or math.inf)
    except TimeoutError as exc:
        outcome = "timeout", str(exc) or f"no answer within {timeout} s"
    except Exception as exc:
        outcome = "error", f"{type(exc).__name__}: {exc}"
    except BaseException:
        if not ledger.closed:
            delegation.status, delegation.error = "cancelled", "the run was stopped"
            delegation.latency = time.monotonic() - started
        ledger.event("cancelled", target, source, latency=time.monotonic() - started)
        raise
    else:
        outcome = "ok", reply
    latency = time.monotonic() - started
    if ledger.closed:
        return
    status, value = outcome
    delegation.status, delegation.latency = status, latency
    if status == "ok":
        usage = Usage.of_reply(value)
        answer = output_text(value)
        delegation.answer = answer if isinstance(answer, str) else json.dumps(answer, default=str)
        delegation.usage = usage
        if ledger.run is not None:
            ledger.run.charge(target, usage)
        ledger.event("reply", target, source, delegation.answer, latency=latency, usage=usage)
    else:
        delegation.error = str(value)
        ledger.event(status, target, source, delegation.error, latency=latency)
