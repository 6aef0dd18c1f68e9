"""Monitoring: one call reports what every agent is doing and what it cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from ..actors._cell import ActorState

if TYPE_CHECKING:
    from ..actors._info import ActorInfo
    from ..system import ActorSystem


class AgentStatus(BaseModel):
    """One actor as a report shows it (Letta fields are ``None`` for plain actors)."""

    name: str
    actor_class: str | None
    supervisor: str | None
    state: ActorState
    handled: int
    errors: int
    restarts: int
    last_error: str | None
    mailbox_depth: int
    mailbox_capacity: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    steps: int | None = None
    letta_requests: dict[str, int] | None = None
    breaker_state: str | None = None

    @classmethod
    def of(cls, info: ActorInfo) -> AgentStatus:
        stats = info.stats
        letta = stats.letta
        return cls(
            name=info.name,
            actor_class=info.actor_class,
            supervisor=info.supervisor,
            state=info.state,
            handled=stats.processed + stats.failed,
            errors=stats.failed,
            restarts=stats.restarts,
            last_error=stats.last_error,
            mailbox_depth=info.mailbox_depth,
            mailbox_capacity=info.mailbox_capacity,
            prompt_tokens=letta.prompt_tokens if letta else None,
            completion_tokens=letta.completion_tokens if letta else None,
            steps=letta.steps if letta else None,
            letta_requests=dict(letta.requests) if letta else None,
            breaker_state=letta.breaker_state if letta else None,
        )


class TeamReport(BaseModel):
    """Every actor of a system (supervisors included unless left out), and dead letters."""

    agents: list[AgentStatus]
    dead_letters: dict[str, int]

    def agent(self, name: str) -> AgentStatus:
        for status in self.agents:
            if status.name == name:
                return status
        raise KeyError(name)


def team_report(system: ActorSystem, *, include_supervisors: bool = False) -> TeamReport:
    """A snapshot of the team: per actor its state, messages handled, errors, restarts, last
    error, mailbox depth and tokens used; and dead letters by reason."""
    from ..supervisors._supervisor import Supervisor

    agents = [
        AgentStatus.of(info)
        for info in system.actors()
        if include_supervisors or not _is_supervisor(system, info.name, Supervisor)
    ]
    totals = {str(reason): count for reason, count in system.dead_letters.totals.items()}
    return TeamReport(agents=agents, dead_letters=totals)


def _is_supervisor(system: ActorSystem, name: str, supervisor: type) -> bool:
    cell = system.cell(name)
    return cell is not None and isinstance(cell.instance, supervisor)
