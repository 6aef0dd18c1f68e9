"""Hub-and-spoke orchestrator: an agent that decides whom to delegate to, then synthesises.

The orchestrator is a Letta agent (:class:`OrchestratorAgent`) offered a ``delegate`` tool over
the specialists it is linked to; their descriptions come from the team definition
(``AgentSpec.description``). One ``delegate`` call may hand several tasks to several
specialists: they run in parallel and all answers come back as the tool result. The run
(:class:`Orchestrator`) records the plan, every delegation and the final answer.
See ``docs/patterns-orchestrator.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..letta import ASK_AGENT, TELL_AGENT, AgentReply, ClientTool, LettaAgent
from ._delegation import (
    DELEGATE,
    NO_DESCRIPTION,
    Assignment,
    Delegation,
    DelegationLedger,
    DelegationPolicy,
    DelegationStatus,
    OrchestratorBrief,
    PlanStep,
    delegate_tool,
    describe,
)
from ._outputs import output_text
from ._record import RunRecord, RunStatus, Usage
from ._run import RunControl, running

if TYPE_CHECKING:
    from ..system import ActorSystem

__all__ = [
    "DELEGATE",
    "NO_DESCRIPTION",
    "Assignment",
    "Delegation",
    "DelegationPolicy",
    "DelegationStatus",
    "Orchestrator",
    "OrchestratorAgent",
    "OrchestratorBrief",
    "OrchestratorResult",
    "OrchestratorSpec",
    "PlanStep",
    "describe",
]


class OrchestratorAgent(LettaAgent):
    """A :class:`~letta_actors.letta.LettaAgent` that delegates with a ``delegate`` tool.

    The tool is offered when the agent is linked to at least one specialist (during a run: to
    one of the run's specialists); ``ask_agent`` / ``tell_agent`` are not offered (peers are
    reached through ``delegate``, so every delegation is recorded). Spawn it like any Letta
    agent: ``OrchestratorAgent.factory(spec, connection, ...)``. Asked with a plain message
    (outside a run), it delegates under :attr:`policy` with nothing recorded.
    """

    #: Limits used when the agent is asked outside an orchestrator run.
    policy: DelegationPolicy = DelegationPolicy()

    def render(self, message: Any) -> str:
        if isinstance(message, OrchestratorBrief):
            return message.text
        return super().render(message)

    def ledger(self) -> DelegationLedger:
        """The ledger of the message being handled (a fresh, unrecorded one outside a run)."""
        envelope = self.envelope
        payload = envelope.payload if envelope is not None else None
        if isinstance(payload, OrchestratorBrief):
            return payload.ledger
        return DelegationLedger(self.name, self.policy)

    async def client_tools(self) -> list[ClientTool]:
        tools = [t for t in await super().client_tools() if t.name not in (ASK_AGENT, TELL_AGENT)]
        tool = delegate_tool(self, self.ledger())
        if tool is not None:
            tools.append(tool)
        return tools

    async def receive(self, message: Any) -> AgentReply:
        if not isinstance(message, OrchestratorBrief):
            return await super().receive(message)
        message.started = True
        stats = self.letta_stats
        before = (stats.prompt_tokens, stats.completion_tokens, stats.steps)
        try:
            return await super().receive(message)
        finally:
            message.usage = Usage(
                prompt_tokens=stats.prompt_tokens - before[0],
                completion_tokens=stats.completion_tokens - before[1],
                steps=stats.steps - before[2],
                requests=1,
            )
            message.finished.set()


class OrchestratorSpec(BaseModel):
    """An orchestrator run, declared.

    ``orchestrator`` names the actor (an :class:`OrchestratorAgent`) that decides;
    ``specialists`` the actors it may delegate to (it must also be linked to them on the bus:
    :meth:`Orchestrator.link_team`). The limits are those of :class:`DelegationPolicy`;
    ``timeout`` is the run's default deadline (seconds; ``None``: none) and ``settle_timeout``
    how long a stopped run waits for the orchestrator's turn to wind down (so the Letta
    requests in flight are cancelled and the record is final) before returning.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "orchestrator"
    orchestrator: str = Field(min_length=1)
    specialists: tuple[str, ...] = Field(min_length=1)
    max_rounds: int = Field(default=3, ge=1, le=50)
    max_delegations: int = Field(default=8, ge=1, le=200)
    max_parallel: int = Field(default=4, ge=1, le=50)
    delegation_timeout: float | None = Field(default=120.0, gt=0)
    timeout: float | None = Field(default=600.0, gt=0)
    settle_timeout: float = Field(default=10.0, ge=0)

    @field_validator("specialists")
    @classmethod
    def _unique(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(names)) != len(names):
            raise ValueError("specialist names must be unique")
        if any(not name for name in names):
            raise ValueError("specialist names must be non-empty")
        return names

    @model_validator(mode="after")
    def _not_self(self) -> OrchestratorSpec:
        if self.orchestrator in self.specialists:
            raise ValueError("the orchestrator cannot be one of its specialists")
        return self

    @property
    def policy(self) -> DelegationPolicy:
        return DelegationPolicy(
            max_rounds=self.max_rounds,
            max_delegations=self.max_delegations,
            max_parallel=self.max_parallel,
            delegation_timeout=self.delegation_timeout,
        )


class OrchestratorResult(RunRecord):
    """The record of an orchestrator run.

    ``plan``: one step per ``delegate`` call (the orchestrator's stated plan and assignments);
    ``delegations``: every task handed out, in order, with answer, latency, usage and status;
    ``answer``: the orchestrator's final text (``None`` when it gave none). ``events`` is the
    full conversation log and ``usage`` has the orchestrator's and each specialist's tokens.
    """

    orchestrator: str = ""
    task: str = ""
    plan: list[PlanStep] = Field(default_factory=list)
    delegations: list[Delegation] = Field(default_factory=list)
    answer: str | None = None

    def delegated_to(self) -> dict[str, list[str]]:
        """Who got which tasks (sent ones only, refused ones left out), in order."""
        out: dict[str, list[str]] = {}
        for d in self.delegations:
            if d.status != "refused":
                out.setdefault(d.to, []).append(d.task)
        return out


class Orchestrator:
    """Runs an :class:`OrchestratorSpec` on a system whose team is already spawned.

    :meth:`run` asks the orchestrator with the task; the orchestrator decides (``delegate``
    calls) and answers. The run is ``completed`` when it answered and every delegation
    succeeded, ``partial`` when it answered but a delegation failed, timed out or was
    refused, ``failed`` when the orchestrator itself failed. The deadline and
    :class:`RunControl` end it early (``timed_out`` / ``cancelled``): the orchestrator's turn is
    cancelled, which cancels the delegations in flight and their Letta requests; the record
    keeps what was done (unfinished delegations ``cancelled``).
    """

    def __init__(self, system: ActorSystem, spec: OrchestratorSpec) -> None:
        self.system = system
        self.spec = spec

    def link_team(self) -> None:
        """Link the orchestrator to each specialist (one way: it may ask them)."""
        for name in self.spec.specialists:
            self.system.bus.link(self.spec.orchestrator, name, both_ways=False)

    def specialists(self) -> dict[str, str]:
        """The specialists the orchestrator can delegate to now (linked), with descriptions."""
        linked = self.system.bus.peers(self.spec.orchestrator)
        return {n: describe(self.system, n) for n in self.spec.specialists if n in linked}

    async def run(
        self, task: str, *, timeout: float | None = None, control: RunControl | None = None
    ) -> OrchestratorResult:
        spec = self.spec
        result = OrchestratorResult(
            pattern=f"orchestrator:{spec.name}",
            run_id="",
            orchestrator=spec.orchestrator,
            task=task,
        )
        ledger = DelegationLedger(
            spec.orchestrator,
            spec.policy,
            specialists=spec.specialists,
            plan=result.plan,
            delegations=result.delegations,
        )
        brief = OrchestratorBrief(task, ledger)
        deadline = timeout if timeout is not None else spec.timeout
        replied = False
        async with running(self.system, result, timeout=deadline, control=control) as run:
            ledger.run = run
            self._check(run.event)
            try:
                reply = await run.ask(spec.orchestrator, brief, source="run", timeout=math.inf)
            except anyio.get_cancelled_exc_class():
                await self._settle(brief)
                raise
            replied = True
            answer = output_text(reply)
            result.answer = answer if isinstance(answer, str) else str(answer)
        ledger.close()
        if not replied and brief.usage is not None and brief.usage.total_tokens:
            run.charge(spec.orchestrator, brief.usage)
        if result.status is RunStatus.COMPLETED and any(
            d.status != "ok" for d in result.delegations
        ):
            result.status = RunStatus.PARTIAL
        return result

    async def _settle(self, brief: OrchestratorBrief) -> None:
        """A stopped run: give the orchestrator's turn ``settle_timeout`` seconds to wind down
        (its delegations cancelled and recorded, their Letta requests cancelled)."""
        if brief.started and not brief.finished.is_set():
            with anyio.CancelScope(shield=True), anyio.move_on_after(self.spec.settle_timeout):
                await brief.finished.wait()

    def _check(self, note: Callable[..., Any]) -> None:
        spec = self.spec
        info = self.system.info(spec.orchestrator)
        if info is None:
            raise LookupError(f"no actor {spec.orchestrator!r} (the orchestrator)")
        instance = info.actor
        if instance is not None and not isinstance(instance, OrchestratorAgent):
            raise TypeError(
                f"{spec.orchestrator!r} is a {type(instance).__name__}, not an OrchestratorAgent"
            )
        linked = self.system.bus.peers(spec.orchestrator)
        missing = [name for name in spec.specialists if name not in linked]
        if missing:
            note("note", "run", None, f"not linked, not offered: {', '.join(missing)}")
        limit = spec.delegation_timeout
        if isinstance(instance, LettaAgent) and limit and instance.options.tool_timeout < limit:
            tool_timeout = instance.options.tool_timeout
            note(
                "note",
                "run",
                None,
                f"tool_timeout {tool_timeout:g} s of {spec.orchestrator} is shorter than "
                f"delegation_timeout {limit:g} s: a delegation round may be cut short",
            )
