"""Monitoring: one call reports what every agent is doing and what it cost."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel

from ..actors import ActorState

if TYPE_CHECKING:
    from ..actors import ActorInfo
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
        from ..letta import LettaStats

        stats = info.stats
        letta = LettaStats.of(stats)
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
    agents = [
        AgentStatus.of(info)
        for info in system.actors()
        if include_supervisors or not info.is_supervisor
    ]
    totals = {str(reason): count for reason, count in system.dead_letters.totals.items()}
    return TeamReport(agents=agents, dead_letters=totals)


class Probe(BaseModel):
    """One health probe: what was probed, whether it answered in time, how fast, and why not."""

    target: str
    ok: bool
    latency: float
    detail: str | None = None


class HealthReport(BaseModel):
    """Liveness of the team: each Letta server, each Letta agent, and the actors' states.

    ``healthy`` is true when every server and agent probe succeeded and every actor is running
    (none restarting or stopping).
    """

    healthy: bool
    servers: list[Probe]
    agents: list[Probe]
    not_running: list[str]


async def health_check(system: ActorSystem, *, timeout: float = 5.0) -> HealthReport:
    """Probe every Letta server the team uses (``GET /v1/health/``) and every Letta agent
    (``agents.retrieve``), concurrently, each within ``timeout`` seconds; no LLM is called and
    no agent's mailbox is involved (a busy agent still probes healthy)."""
    from ..letta import LettaAgent

    servers: dict[str, Any] = {}
    agents: list[tuple[str, LettaAgent]] = []
    not_running: list[str] = []
    for info in system.actors():
        if info.state is not ActorState.RUNNING:
            not_running.append(info.name)
        instance = info.actor
        if isinstance(instance, LettaAgent):
            agents.append((info.name, instance))
            servers.setdefault(instance.connection.server, instance.connection.client)
    server_probes: list[Probe] = []
    agent_probes: list[Probe] = []

    async def probe(target: str, call: Callable[[], Awaitable[object]], into: list[Probe]) -> None:
        started = time.monotonic()
        detail: str | None = None
        try:
            with anyio.fail_after(timeout):
                await call()
        except TimeoutError:
            detail = f"no answer within {timeout:g} s"
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"
        into.append(Probe(target=target, ok=detail is None, latency=time.monotonic() - started,
                          detail=detail))  # fmt: skip

    async with anyio.create_task_group() as tg:
        for url, client in servers.items():
            tg.start_soon(probe, url, client.health, server_probes)
        for name, agent in agents:
            try:
                agent_id = agent.agent_id
            except RuntimeError:
                agent_probes.append(Probe(target=name, ok=False, latency=0.0,
                                          detail="agent not resolved yet"))  # fmt: skip
                continue
            retrieve = functools.partial(agent.connection.client.agents.retrieve, agent_id)
            tg.start_soon(probe, name, retrieve, agent_probes)
    server_probes.sort(key=lambda p: p.target)
    agent_probes.sort(key=lambda p: p.target)
    healthy = not not_running and all(p.ok for p in (*server_probes, *agent_probes))
    return HealthReport(
        healthy=healthy, servers=server_probes, agents=agent_probes, not_running=not_running
    )
