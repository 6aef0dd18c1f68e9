"""A team, running: the actor system built from a :class:`TeamConfig`, and the work it does.

``async with Team(config) as team:`` connects to Letta (when the file has Letta agents),
starts the system with the root supervisor's settings, spawns the supervisors and then the
agents in file order, and declares links and topic subscriptions. Leaving it cancels the
workflow runs still going (their records say so), then stops the actors in reverse start order,
draining their mailboxes within ``team.shutdown_timeout``.

The daemon's HTTP API and embedding applications use the same object: :meth:`ask`,
:meth:`tell`, :meth:`start_run`, :meth:`actors`, :meth:`readiness`, and for a graceful stop
:meth:`stop_accepting` then :meth:`wait_idle`.

With a ``[cluster]`` section (``docs/cluster.md``) the team is one node of a cluster: every
node spawns the supervisors and declares the links and topics, then enters the cluster runtime,
which spawns only the agents this node owns (and moves them on hand-over and failover).
:meth:`ask` and :meth:`tell` reach a declared agent on any node; :meth:`placement` tells which
node owns which; :meth:`readiness` waits for the node's first placement pass. Leaving drains
and hands over this node's agents before the system stops.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import anyio
from anyio.abc import TaskGroup

from ..durable import Codec
from ..errors import ActorNotFound, SystemStopped
from ..letta import AgentReply, LettaConnection
from ..metrics import SystemMetrics
from ..patterns import summarize
from ..patterns.monitoring import health_check
from ..supervisors import DynamicSupervisor
from ..system import ActorSystem
from .config import LettaAgentConfig, TeamConfig, TracingSection
from .factories import ActorFactory, letta_factory, python_factories
from .loader import ConfigError, ConfigIssue
from .runs import RunEntry, RunStore, open_store

if TYPE_CHECKING:
    from ..cluster import ClusterRuntime, ClusterSettings
    from ..tracing import SystemTracing

log = logging.getLogger("letta_actors.daemon")


class NotAccepting(Exception):
    """The team is stopping and takes no new work."""


class Abandoned(Exception):
    """The ask was still waiting when the stop deadline passed; it was given up."""


class UnknownName(LookupError):
    """No agent or workflow of that name is declared."""


class UnknownAgent(UnknownName):
    """No agent of that name is declared."""


class UnknownWorkflow(UnknownName):
    """No workflow of that name is declared."""


def trace_team(
    system: ActorSystem, section: TracingSection, env: Mapping[str, str]
) -> SystemTracing:
    """Install tracing on the team's system as ``[tracing]`` says (the service name defaults to
    ``OTEL_SERVICE_NAME``, else the team's name)."""
    from ..tracing import install_tracing  # the otel extra: checked when the file was loaded

    name = section.service_name or env.get("OTEL_SERVICE_NAME") or system.name
    return install_tracing(system, endpoint=section.endpoint, service_name=name)


def _cluster_settings(
    config: TeamConfig, node: str | None, env: Mapping[str, str]
) -> ClusterSettings | None:
    """This node's cluster settings (None outside cluster mode); :class:`ConfigError` when it
    has no valid name, or when ``node`` is given to a team without ``[cluster]``."""
    if config.cluster is None:
        if node is None:
            return None
        issue = f"node {node!r} is given, but the team file has no [cluster] section"
        raise ConfigError("<team>", [ConfigIssue("cluster", issue)])
    try:
        return config.cluster.settings(node, env)
    except ValueError as exc:
        raise ConfigError("<team>", [ConfigIssue("cluster.node", str(exc))]) from None


def _cluster_runtime(
    system: ActorSystem,
    settings: ClusterSettings,
    spawners: Mapping[str, Callable[[], Awaitable[None]]],
    config: TeamConfig,
    env: Mapping[str, str],
) -> ClusterRuntime:
    """The cluster runtime placing every declared agent (durable as :meth:`TeamConfig.durable`
    says; credentials read from ``env``); imported here: only cluster mode needs the extra."""
    from ..cluster import ClusterRuntime, Placed

    placed = {
        name: Placed(spawn=spawn, durable=config.durable(name)) for name, spawn in spawners.items()
    }
    # A Letta agent's reply (and a message made of one) crosses nodes: the wire must know it.
    codec = Codec([AgentReply])
    return ClusterRuntime(system, settings, placed, codec=codec, environ=env)


class Team:
    """A running team (see the module docstring). ``env`` supplies the secrets' variables;
    ``node`` names this node in cluster mode (else ``$LETTA_ACTORS_NODE``, else the file's)."""

    def __init__(
        self,
        config: TeamConfig,
        *,
        base_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        factories: Mapping[str, ActorFactory] | None = None,
        node: str | None = None,
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.env = os.environ if env is None else env
        self.cluster_settings = _cluster_settings(config, node, self.env)
        self._factories = dict(factories) if factories is not None else None
        self.runs = RunStore(config.api.max_runs_kept)
        self.accepting = False
        self.started = False
        self.connection: LettaConnection | None = None
        self.metrics: SystemMetrics | None = None
        #: In cluster mode, once started: this node's share of the cluster.
        self.runtime: ClusterRuntime | None = None
        self._system: ActorSystem | None = None
        self._tg: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None
        self._in_flight = 0
        self._idle: anyio.Event | None = None
        #: Asks over the API that were refused or failed because the team was stopping.
        self.refused_at_stop = 0
        #: Asks given up at the stop deadline (agent, message summary), reported at exit.
        self.abandoned: list[dict[str, str]] = []
        self._asks: set[anyio.CancelScope] = set()

    @property
    def system(self) -> ActorSystem:
        if self._system is None:
            raise SystemStopped("the team is not running")
        return self._system

    # -- lifecycle ------------------------------------------------------------------------

    def import_factories(self) -> Mapping[str, ActorFactory]:
        """The Python agents' factories: those given to the constructor, else imported now
        (once) by :func:`python_factories`, which raises :class:`ConfigError`."""
        if self._factories is None:
            self._factories = python_factories(self.config, self.base_dir)
        return self._factories

    async def __aenter__(self) -> Self:
        config = self.config
        factories = self.import_factories()
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            if config.letta_agents():
                self.connection = await stack.enter_async_context(
                    LettaConnection(config.letta.connection(self.env))
                )
            root = config.supervision
            system = ActorSystem(
                name=config.team.name,
                enforce_links=config.team.enforce_links,
                ask_timeout=config.team.ask_timeout,
                shutdown_timeout=config.team.shutdown_timeout,
                strategy=root.strategy,
                intensity=root.intensity,
                backoff=root.backoff,
            )
            if config.tracing.enabled:  # closed after the system stopped: its spans export
                stack.enter_context(trace_team(system, config.tracing, self.env))
            if config.store is not None:  # durable mailboxes and run records, closed last
                await open_store(stack, config.store, system, self.runs, config.agents,
                                 self.base_dir)  # fmt: skip
            self._system = await stack.enter_async_context(system)
            # In cluster mode the runtime is left after the runs (below): it drains and hands
            # over this node's agents, then leaves the cluster.
            await self._populate(stack, factories)
            self._tg = await stack.enter_async_context(anyio.create_task_group())
            stack.push_async_callback(self.cancel_runs)  # runs first, then the task group
            if config.metrics.enabled:
                self.metrics = SystemMetrics(self.system, labels=config.metrics.labels)
                stack.callback(self.metrics.close)
                if self.runtime is not None:  # the node's cluster series, on the same /metrics
                    from ..cluster import cluster_collector

                    self.metrics.registry.register(cluster_collector(self.runtime))
        except BaseException:
            self.runtime = None
            await stack.aclose()
            raise
        self._stack = stack
        self.started = self.accepting = True
        if self.runtime is None:
            log.info("team %r started: %d agents", config.team.name, len(config.agents))
        else:
            owned = self.runtime.owned()
            log.info(
                "team %r started as node %s: owns %d of %d agents (%s)",
                config.team.name, self.runtime.node_name, len(owned), len(config.agents),
                ", ".join(owned) or "none yet",
            )  # fmt: skip
        return self

    async def _populate(self, stack: AsyncExitStack, factories: Mapping[str, ActorFactory]) -> None:
        """Links, supervisors, agents (in file order) and topic subscriptions. In cluster mode
        every node declares them all, and enters the cluster runtime on ``stack``: it spawns the
        agents this node owns, when it acquires them."""
        config, system = self.config, self.system
        for link in config.links:
            system.bus.link(link.source, link.target, both_ways=link.both_ways)
        await self._spawn_supervisors()
        spawners = {name: self._spawner(name, factories) for name in config.agents}
        if self.cluster_settings is None:
            for name, spawn in spawners.items():
                await spawn()
                self._subscribe(config.agents[name].subscribe, [name])
        else:  # every node routes a topic to its subscribers, wherever they run
            for name, agent in config.agents.items():
                self._subscribe(agent.subscribe, [name])
        for topic, names in config.topics.items():
            self._subscribe([topic], names)
        if self.cluster_settings is not None:
            self.runtime = await stack.enter_async_context(
                _cluster_runtime(system, self.cluster_settings, spawners, config, self.env)
            )
            await self.runs.open(self.runtime.run_records)  # this node's past runs

    def _subscribe(self, topics: Collection[str], names: Collection[str]) -> None:
        for topic in topics:
            for name in names:
                self.system.bus.subscribe(topic, name)

    async def _spawn_supervisors(self) -> None:
        """The supervisors of the file, on every node (its agents are spawned into them)."""
        for name, sup in self.config.supervisors.items():
            # Its agents are spawned into it at run time: a DynamicSupervisor keeps their specs,
            # so a restart by its parent (after it gave up) starts them again.
            supervisor = DynamicSupervisor(
                strategy=sup.strategy, intensity=sup.intensity, backoff=sup.backoff
            )
            await self.system.spawn(supervisor, name=name, supervisor=sup.parent)

    def _spawner(
        self, name: str, factories: Mapping[str, ActorFactory]
    ) -> Callable[[], Awaitable[None]]:
        """What starts agent ``name`` in this node's system (in file order in-process; when
        this node acquires it in cluster mode)."""
        config, agent = self.config, self.config.agents[name]
        factory: ActorFactory
        if isinstance(agent, LettaAgentConfig):
            assert self.connection is not None
            factory = letta_factory(config, name, self.connection)
        else:
            factory = factories[name]
        # The team's drain budget, unless the agent declares its own.
        shutdown = config.team.shutdown_timeout if agent.shutdown is None else agent.shutdown

        async def spawn() -> None:
            await self.system.spawn(
                factory,
                name=name,
                mailbox=agent.mailbox,
                restart=agent.restart,
                shutdown=shutdown,
                max_attempts=agent.max_attempts,
                supervisor=agent.supervisor,
            )
            log.info("started agent %s", name, extra={"actor": name})

        return spawn

    async def cancel_runs(self) -> None:
        """Cancel every run still going (each returns its record, marked cancelled)."""
        for entry in self.runs.running():
            entry.control.cancel()

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        self.accepting = False
        stack, self._stack = self._stack, None
        try:
            if stack is not None:
                return await stack.__aexit__(*exc_info)
            return None
        finally:
            self.started = False
            self.runtime = None
            log.info("team %r stopped", self.config.team.name)

    # -- graceful stop --------------------------------------------------------------------

    def stop_accepting(self) -> None:
        """Refuse new asks, tells and runs (:class:`NotAccepting`); work already taken goes on."""
        self.accepting = False

    @property
    def in_flight(self) -> int:
        """Asks and runs taken over the API and not finished yet."""
        return self._in_flight

    async def wait_idle(self, timeout: float = math.inf) -> bool:
        """Wait until no ask or run is in flight, at most ``timeout`` s; True when idle."""
        with anyio.move_on_after(timeout):
            while self._in_flight:
                self._idle = anyio.Event()
                await self._idle.wait()
        return self._in_flight == 0

    @asynccontextmanager
    async def _work(self, *, taken: bool = False) -> AsyncIterator[None]:
        """Count the work in flight; refuse new work (:class:`NotAccepting`) once stopping,
        unless it was ``taken`` before (a run started before the stop began)."""
        if not (taken or self.accepting):
            raise NotAccepting("the team is stopping")
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0 and self._idle is not None:
                self._idle.set()

    # -- work -----------------------------------------------------------------------------

    def _agent(self, name: str) -> str:
        if name not in self.config.agents:
            raise UnknownAgent(f"no agent named {name!r}")
        return name

    async def ask(
        self,
        agent: str,
        message: Any,
        *,
        timeout: float | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Ask a declared agent (``message_id`` becomes the envelope's id); raises
        :class:`UnknownName`, :class:`NotAccepting` and the errors of
        :meth:`letta_actors.bus.Bus.ask`."""
        name = self._agent(agent)
        async with self._work():
            with anyio.CancelScope() as scope:
                self._asks.add(scope)
                try:
                    return await self.system.bus.ask(
                        name, message, timeout=timeout, message_id=message_id
                    )
                finally:
                    self._asks.discard(scope)
            abandoned = {"agent": name, "message": summarize(message, 120)}
            if message_id is not None:
                abandoned["message_id"] = message_id
            self.abandoned.append(abandoned)
            raise Abandoned(f"{name!r} had not answered when the stop deadline passed")

    def abandon_asks(self) -> int:
        """Give up every ask still waiting (each raises :class:`Abandoned` to its caller, and is
        listed in :meth:`unfinished`); returns how many."""
        scopes = list(self._asks)
        for scope in scopes:
            scope.cancel()
        return len(scopes)

    async def tell(self, agent: str, message: Any, *, message_id: str | None = None) -> None:
        """Tell a declared agent (queued in memory, and stored first when :meth:`durable`;
        handled, or dead-lettered with its reason and ``message_id``, which becomes the
        envelope's id)."""
        name = self._agent(agent)
        async with self._work():
            if self.runtime is None and self.system.info(name) is None:
                raise ActorNotFound(name)
            await self.system.bus.tell(name, message, message_id=message_id)

    def durable(self, agent: str) -> bool:
        """Whether a tell to ``agent`` is stored before it returns (a ``[store]`` mailbox, or
        a JetStream stream in cluster mode: it survives a killed process) or lives in memory
        only (:meth:`TeamConfig.durable`)."""
        return self.config.durable(self._agent(agent))

    def start_run(self, workflow: str, message: Any) -> RunEntry:
        """Start a declared workflow in the background; its entry tracks it to the end."""
        declared = self.config.workflows.get(workflow)
        if declared is None:
            raise UnknownWorkflow(f"no workflow named {workflow!r}")
        if not self.accepting or self._tg is None:
            raise NotAccepting("the team is stopping")
        entry = RunEntry(workflow, message)
        self.runs.add(entry)

        async def run() -> None:
            async with self._work(taken=True):
                try:
                    record = await declared.run(self.system, workflow, message, entry.control)
                except Exception as exc:
                    log.exception("workflow run failed", extra={"run_id": entry.id})
                    entry.finish(None, f"{type(exc).__name__}: {exc}")
                else:
                    entry.finish(record)
                log.info(
                    "run %s of %s: %s",
                    entry.id,
                    workflow,
                    entry.status,
                    extra={"run_id": entry.id, "workflow": workflow},
                )

        self._tg.start_soon(run)
        log.info(
            "run %s of %s started",
            entry.id,
            workflow,
            extra={"run_id": entry.id, "workflow": workflow},
        )
        return entry

    # -- observation ----------------------------------------------------------------------

    def actors(self) -> list[dict[str, Any]]:
        """Every actor of this process (supervisors included): state, mailbox depth, restarts,
        what it works on now (a summary of the message it is handling, if any), and in cluster
        mode ``node``, this node's name (:meth:`placement` tells where the others run)."""
        out: list[dict[str, Any]] = []
        node = None if self.runtime is None else self.runtime.node_name
        for info in self.system.actors():
            stats = info.stats
            working = info.current
            out.append(
                {
                    "name": info.name,
                    "kind": self._kind(info.name),
                    "state": str(info.state),
                    "supervisor": info.supervisor,
                    "actor_class": info.actor_class,
                    "mailbox_depth": info.mailbox_depth,
                    "mailbox_capacity": info.mailbox_capacity,
                    "restarts": stats.restarts,
                    "processed": stats.processed,
                    "failed": stats.failed,
                    "working_on": None if working is None else summarize(working, 120),
                    "node": node,
                }
            )
        return out

    async def placement(self) -> dict[str, Any] | None:
        """In cluster mode: this node's name, whether it is ready, the live nodes and the
        owner node of every declared agent (None: between owners); None in-process. Raises
        :class:`~letta_actors.cluster.ClusterUnavailable` while NATS is away."""
        runtime = self.runtime
        if runtime is None:
            return None
        owners = await runtime.owners()
        return {
            "node": runtime.node_name,
            "ready": runtime.ready,
            "nodes": sorted(await runtime.nodes()),
            "owners": {name: owners.get(name) for name in self.config.agents},
        }

    def _kind(self, name: str) -> str:
        agent = self.config.agents.get(name)
        return agent.kind if agent is not None else "supervisor"

    async def readiness(self, timeout: float = 5.0) -> tuple[bool, dict[str, Any]]:
        """Ready: started, accepting, every actor running, and every Letta server and agent
        answering (:func:`~letta_actors.patterns.monitoring.health_check`); in cluster mode
        also joined, with its first placement pass done (``cluster`` in the report)."""
        if not self.started:
            return False, {"started": False}
        report = await health_check(self.system, timeout=timeout)
        ready = report.healthy and self.accepting
        extra: dict[str, Any] = {}
        if self.runtime is not None:
            ready = ready and self.runtime.ready
            extra["cluster"] = {"node": self.runtime.node_name, "ready": self.runtime.ready}
        return ready, {
            "started": True,
            "accepting": self.accepting,
            **report.model_dump(mode="json"),
            **extra,
        }

    def unfinished(self) -> dict[str, Any]:
        """What was not finished normally: runs that ended cancelled or timed out, asks refused
        while stopping, and every dead letter (by reason, and each one's recipient and id)."""
        system = self._system
        letters = list(system.dead_letters) if system is not None else []
        runs = [
            r.summary()
            for r in self.runs
            if r.status in ("cancelled", "timed_out", "running", "failed")
        ]
        return {
            "runs": [{k: r[k] for k in ("run_id", "workflow", "status", "error")} for r in runs],
            "refused_at_stop": self.refused_at_stop,
            "abandoned_asks": list(self.abandoned),
            "dead_letters": {
                "totals": dict(system.dead_letters.totals) if system is not None else {},
                "letters": [
                    {
                        "recipient": d.envelope.recipient,
                        "message_id": d.envelope.id,
                        "reason": str(d.reason),
                        "error": d.error_text,
                        "message": summarize(d.envelope.payload, 120),
                    }
                    for d in letters
                ],
            },
        }
