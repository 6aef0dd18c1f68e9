"""What an orchestrator run delegates: its limits, plan steps and delegations, in a ledger.

The run sends its orchestrator agent an :class:`OrchestratorBrief`, a
:class:`~letta_actors.patterns._report.ChannelMessage` whose channel is the run's
:class:`DelegationLedger`: the ``delegate`` tool (``_delegation``) records into it as it works.
Nothing here needs Letta.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal, Self

import anyio
from pydantic import BaseModel, ConfigDict, Field

from ..usage import Usage
from ._record import EventKind
from ._report import ChannelMessage

if TYPE_CHECKING:
    from ..system import ActorSystem
    from ._run import Run

#: The name of the delegation tool.
DELEGATE = "delegate"

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


class OrchestratorBrief(ChannelMessage[DelegationLedger]):
    """The message an orchestrator run sends its orchestrator agent: the task text, carrying
    the ledger its delegations are recorded in (``channel``, also :attr:`ledger`).

    ``started`` / ``finished``: the agent's handling of it began / ended; ``usage``: what the
    orchestrator spent on it (filled in when its handling ends).
    """

    started: bool
    finished: anyio.Event
    usage: Usage | None

    def __new__(cls, text: str, ledger: DelegationLedger) -> Self:
        brief = super().__new__(cls, text, ledger)
        brief.started = False
        brief.finished = anyio.Event()
        brief.usage = None
        return brief

    @property
    def text(self) -> str:
        return str(self)

    @property
    def ledger(self) -> DelegationLedger:
        return self.channel


__all__ = [
    "DELEGATE",
    "Assignment",
    "Delegation",
    "DelegationLedger",
    "DelegationPolicy",
    "DelegationStatus",
    "OrchestratorBrief",
    "PlanStep",
]
