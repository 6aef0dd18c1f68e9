"""The ``delegate`` tool: an orchestrator agent hands tasks to linked specialists.

The tool runs inside the orchestrator actor's ``receive`` (Letta's client-tool protocol), so the
asks it makes carry the orchestrator as sender and the right call chain. Several delegations in
one call run concurrently (a task group; each specialist is its own actor). When the message
being handled is an :class:`OrchestratorBrief` (sent by an orchestrator run), every delegation is
recorded into that run's record as it happens.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..letta import ClientTool, LettaAgent, ToolContext, ToolError
from ._outputs import output_text
from ._record import EventKind, Usage
from ._tracing import step

if TYPE_CHECKING:
    from ..system import ActorSystem
    from ._run import Run

#: The name of the delegation tool.
DELEGATE = "delegate"
#: Shown for a specialist whose team definition has no description.
NO_DESCRIPTION = "(no description)"

DelegationStatus = Literal["running", "ok", "error", "timeout", "cancelled", "refused"]


class DelegationPolicy(BaseModel):
    """Limits on what an orchestrator may delegate during one message (one run).

    - ``max_rounds``: ``delegate`` calls; past it, calls are refused (tool error).
    - ``max_delegations``: (specialist, task) pairs in total.
    - ``max_parallel``: pairs in one call (they run concurrently).
    - ``delegation_timeout``: seconds one specialist gets for its answer (``None``: no limit
      of its own; the run's deadline and the orchestrator's ``tool_timeout`` still apply).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_rounds: int = Field(default=3, ge=1, le=50)
    max_delegations: int = Field(default=8, ge=1, le=200)
    max_parallel: int = Field(default=4, ge=1, le=50)
    delegation_timeout: float | None = Field(default=120.0, gt=0)


class Assignment(BaseModel):
    """One (specialist, task) pair of a ``delegate`` call."""

    model_config = ConfigDict(extra="forbid")

    specialist: str = Field(min_length=1)
    task: str = Field(min_length=1)


class PlanStep(BaseModel):
    """One ``delegate`` call: the orchestrator's stated plan and what it assigned.

    ``refused`` is the reason when the call was refused as a whole (nothing was delegated).
    """

    round: int
    rationale: str | None = None
    assignments: list[Assignment] = Field(default_factory=list)
    refused: str | None = None


class Delegation(BaseModel):
    """One task handed to one specialist, and what came of it.

    ``status``: ``ok`` (``answer`` holds the specialist's text), ``error`` / ``timeout``
    (``error`` says why), ``cancelled`` (the run was stopped first), ``refused`` (never sent:
    unknown or unlinked specialist, or a limit reached). ``started_at`` is in seconds after
    the run started; ``usage`` is what the specialist spent on it.
    """

    id: int
    round: int
    tool_call_id: str | None = None
    from_agent: str
    to: str
    task: str
    status: DelegationStatus = "running"
    answer: str | None = None
    error: str | None = None
    started_at: float = 0.0
    latency: float = 0.0
    usage: Usage = Field(default_factory=Usage)


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="ignore")

    delegations: list[Assignment] = Field(min_length=1)
    plan: str | None = None


class DelegationLedger:
    """What one orchestrator message delegated: the plan steps and delegations, in order.

    With a ``run`` the lists are the run record's own, and each delegation is also recorded as
    request / reply (or error, timeout, cancelled) events with its usage charged to the
    specialist. Once :meth:`close` d (the run returned), nothing is written any more.
    """

    def __init__(
        self,
        orchestrator: str,
        policy: DelegationPolicy,
        *,
        specialists: tuple[str, ...] | None = None,
        run: Run | None = None,
        plan: list[PlanStep] | None = None,
        delegations: list[Delegation] | None = None,
    ) -> None:
        self.orchestrator = orchestrator
        self.policy = policy
        self.specialists = specialists
        self.run = run
        self.plan: list[PlanStep] = plan if plan is not None else []
        self.delegations: list[Delegation] = delegations if delegations is not None else []
        self.closed = False
        self._t0 = time.monotonic()

    def close(self) -> None:
        """Stop recording; delegations still running are marked ``cancelled``."""
        self.closed = True
        for delegation in self.delegations:
            if delegation.status == "running":
                delegation.status = "cancelled"
                delegation.error = "not finished: the run was stopped"

    def now(self) -> float:
        return self.run.now() if self.run is not None else time.monotonic() - self._t0

    def event(
        self,
        kind: EventKind,
        source: str,
        target: str | None,
        summary: Any = "",
        *,
        latency: float | None = None,
        usage: Usage | None = None,
    ) -> None:
        if self.run is not None and not self.closed:
            self.run.event(kind, source, target, summary, latency=latency, usage=usage)

    def available(self, system: ActorSystem) -> list[str]:
        """The specialists the orchestrator may delegate to now: linked peers (of those named)."""
        peers = system.bus.peers(self.orchestrator)
        if self.specialists is None:
            return sorted(peers)
        return [name for name in self.specialists if name in peers]


@dataclass(eq=False)
class OrchestratorBrief:
    """The message an orchestrator run sends its orchestrator agent: the task text, plus the
    ledger its delegations are recorded in. :class:`OrchestratorAgent` renders it as ``text``.
    """

    text: str
    ledger: DelegationLedger
    started: bool = False
    finished: anyio.Event = field(default_factory=anyio.Event)
    #: What the orchestrator spent on this message (filled in when its handling ends).
    usage: Usage | None = None


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

    async def handler(ctx: ToolContext, **arguments: Any) -> str:
        return await _delegate(agent, ledger, ctx, arguments)

    return ClientTool(
        name=DELEGATE,
        description=description,
        parameters=parameters,
        handler=handler,
        wants_context=True,
    )


async def _delegate(
    agent: LettaAgent, ledger: DelegationLedger, ctx: ToolContext, arguments: dict[str, Any]
) -> str:
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
