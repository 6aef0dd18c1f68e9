"""Cluster mode of one actor system: the placed actors run on exactly one node each.

``async with ClusterRuntime(system, settings, actors):`` (the system running, the supervisors
the actors go under already spawned) connects to NATS, installs the node's mailboxes and its
bus route, joins the cluster and takes its share of ``actors``:

- **Acquired** (placed here, lease taken): the actor is spawned here (``Placed.spawn``), then
  served: its subjects are subscribed, a durable one's stream is consumed from the first
  unacknowledged message.
- **Handed over** (a node joined and the actor is placed there now): it stops being served,
  its actor is stopped (it handles what it already has, within its shutdown time), then the
  lease is released; the new owner acquires it on its next pass. Nothing is handled twice.
  Its topic subscriptions stay (by name): a publish on any node still reaches it.
- **Lost** (lease expired here: paused, NATS away too long; or taken): the actor's mailbox
  stops handing anything out at once (checked at every take), it stops being served and its
  actor is stopped without finishing its queue; durable messages stay in the stream for the
  next owner.
- **Given up** (it stopped for good under its supervisor here: restarts ran out, or it is
  ``temporary``): it stops being served and is released; a placement pass starts it again.
- **Leaving** (the ``async with`` ends): every actor is handed over (drained, released), then
  the node leaves (its last run records written, within ``send_timeout``). If the system has
  already stopped (its supervision gave up) the leases are released without draining, so the
  other nodes take over at once instead of after the TTL.

Sends from this system to a placed actor that another node owns go through the
:class:`~letta_actors.cluster.Transport` (see its docstring for each kind of send).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import anyio
from anyio.abc import TaskGroup

from ..actors import ActorInfo, Mailbox, MailboxConfig
from ..durable import Codec
from ..system import ActorSystem
from ._connection import ClusterConnection, require_asyncio
from ._errors import ClusterUnavailable
from ._leases import LeaseLoss
from ._mailbox import ClusterMailbox, StreamMailbox
from ._node import ClusterNode
from ._runs import ClusterRunRecords
from ._settings import ClusterSettings
from ._stats import ClusterStats
from ._transport import Transport
from ._wire import Wire

log = logging.getLogger("letta_actors.cluster")


@dataclass(frozen=True)
class Placed:
    """An actor the cluster places on one node: how to start it here (``spawn``: e.g.
    ``system.spawn(factory, name=..., supervisor=...)``), and whether its tells are stored in
    JetStream (``durable``)."""

    spawn: Callable[[], Awaitable[object]]
    durable: bool = False


class ClusterRuntime:
    """One node's share of the placed ``actors`` (see the module docstring)."""

    def __init__(
        self,
        system: ActorSystem,
        settings: ClusterSettings,
        actors: Mapping[str, Placed],
        *,
        codec: Codec | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.system = system
        self.settings = settings
        self.placed = dict(actors)
        self.node_name = settings.node
        self.stats = ClusterStats()
        #: Per owned durable actor: stream messages not acknowledged yet (sampled every
        #: renewal interval).
        self.lag: dict[str, int] = {}
        #: Joined, and the first placement pass is done.
        self.ready = False
        self.wire = Wire(settings.node, codec)
        self._environ = environ
        self._conn: ClusterConnection | None = None
        self._transport: Transport | None = None
        self._node: ClusterNode | None = None
        self._tg: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None
        self._last_owners: dict[str, str] = {}
        self._stopping: dict[str, anyio.Event] = {}
        self._previous_factory = system.mailbox_factory
        self._left = False
        #: This node's workflow run records, in the ``<prefix>_runs`` bucket (set at start).
        self.run_records: ClusterRunRecords

    # -- views ----------------------------------------------------------------------------------

    @property
    def conn(self) -> ClusterConnection:
        if self._conn is None:
            raise RuntimeError("the cluster runtime is not running")
        return self._conn

    @property
    def node(self) -> ClusterNode:
        if self._node is None:
            raise RuntimeError("the cluster runtime is not running")
        return self._node

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            raise RuntimeError("the cluster runtime is not running")
        return self._transport

    def owns(self, actor: str) -> bool:
        """Whether this node may handle ``actor`` now (its lease checked first)."""
        return self._node is not None and self._node.owns(actor)

    def owned(self) -> list[str]:
        """The placed actors this node holds now."""
        return self._node.owned() if self._node is not None else []

    async def owners(self) -> dict[str, str | None]:
        """Every placed actor and the node holding it (None: nobody right now). Raises
        :class:`ClusterUnavailable`."""
        held = await self.node.leases.owners()
        return {name: held.get(name) for name in sorted(self.placed)}

    async def nodes(self) -> list[str]:
        """The live nodes' names. Raises :class:`ClusterUnavailable`."""
        return await self.node.membership.nodes()

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        require_asyncio()
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def _start(self, stack: AsyncExitStack) -> None:
        system, settings = self.system, self.settings
        self._conn = conn = await ClusterConnection.open(settings, environ=self._environ)
        stack.push_async_callback(conn.close)
        durable = [name for name, placed in self.placed.items() if placed.durable]
        transport = Transport(conn, system, self.wire, self.placed, durable, self.stats)
        self._transport = transport
        await transport.open()
        self.run_records = ClusterRunRecords(conn)
        await self.run_records.open()
        self._node = node = ClusterNode(
            conn, settings, self.placed,
            drain=self._hand_over, on_acquired=self._acquired, on_lost=self._lost,
        )  # fmt: skip
        node.leases.on_renewed = self._renewed
        await node.join()
        stack.push_async_callback(self._restore_system)
        system.mailbox_factory = self._mailbox
        system.bus.add_route(transport)
        system.registry.retire_listeners.append(self._retired)
        self._tg = tg = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(tg.cancel_scope.cancel)
        await tg.start(transport.run)
        await tg.start(self.run_records.run)
        stack.push_async_callback(self._leave)
        await tg.start(node.run)
        tg.start_soon(self._watch)
        tg.start_soon(self._release_when_stopped)
        self.ready = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        self.ready = False
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    async def _restore_system(self) -> None:
        self.system.registry.retire_listeners.remove(self._retired)
        self.system.bus.remove_route(self.transport)
        self.system.mailbox_factory = self._previous_factory

    async def _release_when_stopped(self) -> None:
        """The system stopped under the runtime (its supervision gave up): release at once."""
        failure = await self.system.wait_stopped()
        log.warning(
            "node %s: its actor system stopped (%s); releasing its actors to the other nodes",
            self.node_name, failure,
        )  # fmt: skip
        await self._leave()

    async def _leave(self) -> None:
        """Hand every actor over (or, the system stopped, just release), then leave. Once."""
        if self._left:
            return
        self._left = True
        self.ready = False
        node = self.node
        try:
            with anyio.CancelScope(shield=True):
                if self.system.running:
                    await node.leave()
                else:
                    for actor in node.leases.held():
                        await self.transport.unserve(actor)
                    await node.leases.release_all()
                    await node.membership.leave()
        except ClusterUnavailable as exc:
            log.warning("node %s left without NATS (%s): its leases expire by TTL", node.node, exc)
        with anyio.move_on_after(self.settings.send_timeout, shield=True) as scope:
            await self.run_records.flush()
        if scope.cancelled_caught:
            log.warning("node %s left before its last run records were written", node.node)

    # -- placement callbacks --------------------------------------------------------------------

    def _mailbox(
        self, name: str, config: MailboxConfig, event_factory: Callable[[], anyio.Event]
    ) -> Mailbox:
        placed = self.placed.get(name)
        if placed is None:
            return self._previous_factory(name, config, event_factory)
        if placed.durable:
            return StreamMailbox(name, config, event_factory, self.owns, self.transport)
        return ClusterMailbox(name, config, event_factory, self.owns)

    async def _acquired(self, actor: str) -> None:
        stopping = self._stopping.get(actor)
        if stopping is not None:
            await stopping.wait()  # the previous instance here is still being stopped
        try:
            await self.placed[actor].spawn()
        except Exception:
            log.exception("node %s could not start %s: releasing it", self.node_name, actor)
            await self.node.leases.release(actor)
            return
        self.stats.acquisitions += 1
        previous = self._last_owners.get(actor)
        if previous is not None and self.node.taken_from.get(actor) == "free":
            # Someone held it, and its lease expired instead of being released.
            self.stats.failovers += 1
            log.info("node %s took %s over (last seen on %s)", self.node_name, actor, previous)
        self._last_owners[actor] = self.node_name
        cell = self.system.cell(actor)
        mailbox = cell.mailbox if cell is not None else None
        await self.transport.serve(actor, mailbox if isinstance(mailbox, StreamMailbox) else None)

    def _retired(self, info: ActorInfo) -> None:
        """A placed actor stopped for good under its supervisor while this node owns it (its
        restarts ran out, or it is ``temporary``): stop serving it and release it, so that a
        placement pass starts it again (here or elsewhere) instead of it staying owned and
        dead, its durable messages piling up."""
        name = info.name
        if (
            name not in self.placed
            or name in self._stopping  # stopped by this runtime: handed over or lost
            or self._left
            or self._tg is None
            or not self.system.running
            or not self.owns(name)
        ):
            return
        log.warning(
            "node %s: %s stopped for good under its supervisor; releasing it to be started "
            "again", self.node_name, name,
        )  # fmt: skip
        topics = self._topics_of(name)  # the registry forgets them next
        self._stopping[name] = done = anyio.Event()

        async def release() -> None:
            try:
                await self.transport.unserve(name)
                await self.node.leases.release(name)
            finally:
                self._resubscribe(name, topics)
                self._stopping.pop(name, None)
                done.set()

        self._tg.start_soon(release)

    def _topics_of(self, actor: str) -> list[str]:
        return [t for t, names in self.system.bus.topics.topics().items() if actor in names]

    def _resubscribe(self, actor: str, topics: list[str]) -> None:
        for topic in topics:
            self.system.bus.subscribe(topic, actor)

    def _renewed(self, actor: str, revision: int) -> None:
        self.stats.lease_renewals += 1

    async def _hand_over(self, actor: str) -> None:
        await self._stop(actor, timeout=None)
        self.stats.handovers += 1

    def _lost(self, loss: LeaseLoss) -> None:
        self.stats.lease_losses += 1
        if self._tg is not None and loss.name in self.placed:
            self._stopping.setdefault(loss.name, anyio.Event())
            self._tg.start_soon(self._stop, loss.name, 0.0)

    async def _stop(self, actor: str, timeout: float | None) -> None:
        """Stop serving ``actor``, then stop it (``timeout`` 0: without finishing its queue)."""
        done = self._stopping.setdefault(actor, anyio.Event())
        # Retiring a name drops its topic subscriptions; the actor lives on elsewhere.
        topics = self._topics_of(actor)
        try:
            await self.transport.unserve(actor)
            if self.system.running:
                await self.system.stop(actor, timeout=timeout)
        finally:
            self._resubscribe(actor, topics)
            self.lag.pop(actor, None)
            self._stopping.pop(actor, None)
            done.set()

    async def _watch(self) -> None:
        """Every renewal interval: who owns what (to tell failovers from hand-overs), and the
        stream lag of the durable actors owned here."""
        while True:
            with suppress(ClusterUnavailable):
                self._last_owners.update(await self.node.leases.owners())
            for actor in self.owned():
                if self.placed[actor].durable:
                    lag = await self.transport.lag(actor)
                    if lag is not None:
                        self.lag[actor] = lag
            await anyio.sleep(self.settings.leases.renew_every)
