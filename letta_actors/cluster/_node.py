"""One node of the cluster: membership, the leases of its actors, placement and hand-over.

:meth:`ClusterNode.run` joins (refused with :class:`NodeNameTaken` if the name is live),
then, every ``renew_interval`` until cancelled, reconciles what it holds with
:func:`~letta_actors.cluster.place` over the live nodes:

- an actor placed here and free is acquired (``on_acquired`` is called);
- an actor held here but placed on another live node is handed over: ``drain(actor)`` is
  awaited (the owner stops taking messages and finishes what it has), then the lease is
  released, and the new owner acquires it on its next pass. No message is handled by both.

A node that died stops renewing: its membership and leases expire after the TTL, the others
see it gone and acquire its actors. A node that lost its membership (paused past the TTL)
drops all its leases at once and rejoins if its name is free. Every node must be given the
same actor names (the same team file). ``on_acquired`` may be a coroutine function (it is
awaited before the pass goes on). ``drain`` and ``on_acquired`` must not raise: an error
from either ends :meth:`ClusterNode.run` with it (NATS being away only skips a pass).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal

import anyio
from anyio.abc import TaskStatus

from ._connection import ClusterConnection
from ._errors import ClusterUnavailable, NodeNameTaken
from ._leases import Clock, LeaseLoss, Leases, lease_clock
from ._membership import Membership
from ._placement import place
from ._settings import ClusterSettings

log = logging.getLogger("letta_actors.cluster")


async def _no_drain(actor: str) -> None:
    return None


class ClusterNode:
    """Placement and leases of ``actors`` for the node named in ``settings``."""

    def __init__(
        self,
        conn: ClusterConnection,
        settings: ClusterSettings,
        actors: Iterable[str],
        *,
        drain: Callable[[str], Awaitable[None]] = _no_drain,
        on_acquired: Callable[[str], Awaitable[None] | None] | None = None,
        on_lost: Callable[[LeaseLoss], None] | None = None,
        clock: Clock = lease_clock,
    ) -> None:
        self.settings = settings
        self.node = settings.node
        self.actors = sorted(set(actors))
        self.drain = drain
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.membership = Membership(conn, settings, on_lost=self._membership_lost, clock=clock)
        #: How each actor was found when this node last acquired it: ``"released"`` (handed
        #: over: its holder deleted the lease) or ``"free"`` (never held, or it expired).
        self.taken_from: dict[str, Literal["released", "free"]] = {}
        #: False once :meth:`leave` began: the passes acquire and hand over nothing more.
        self.placing = True
        self._pass = anyio.Lock()
        self.leases = Leases.of_node(conn, settings, "leases", on_lost=on_lost, clock=clock)
        self._membership_leases = self.membership.leases  # both on ``clock``

    def owns(self, actor: str) -> bool:
        """Whether this node may handle ``actor`` now (see :meth:`Leases.holds`)."""
        leases = self.leases
        now = leases.clock()  # one reading for both leases (one clock)
        if leases.valid_at(actor, now) and self._membership_leases.valid_at(self.node, now):
            return True
        return self.membership.alive and leases.holds(actor)  # drops and reports what lapsed

    def owned(self) -> list[str]:
        """The actors this node holds now."""
        return self.leases.held() if self.membership.alive else []

    async def join(self) -> None:
        """Join the cluster and open the lease bucket (:class:`NodeNameTaken` if refused)."""
        await self.membership.join()
        await self.leases.open()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Join (unless :meth:`join` was called), then renew and reconcile until cancelled;
        started after the first pass.
        Cancelled, it releases nothing (use :meth:`leave` for a graceful exit)."""
        if not self.membership.alive:
            await self.join()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.membership.run)
            tg.start_soon(self.leases.run)
            await self._reconcile_logged()
            task_status.started()
            while True:
                await anyio.sleep(self.settings.leases.renew_every)
                await self._reconcile_logged()

    async def _reconcile_logged(self) -> None:
        try:
            await self.reconcile()
        except ClusterUnavailable as exc:
            log.info("node %s: reconcile skipped (%s)", self.node, exc)

    async def reconcile(self) -> None:
        """One pass: rejoin if the membership lapsed, hand over what belongs elsewhere,
        acquire what belongs here. Raises :class:`ClusterUnavailable` if NATS is away."""
        async with self._pass:
            if self.placing:
                await self._reconcile()

    async def _reconcile(self) -> None:
        if not self.membership.alive:
            try:
                await self.membership.join()
            except NodeNameTaken:
                log.warning("node %s: name taken by another node; staying passive", self.node)
                return
        nodes = await self.membership.nodes()
        if not nodes:  # this node's membership lapsed meanwhile: rejoin on the next pass
            return
        plan = place(self.actors, nodes)
        for actor in self.actors:
            target = plan[actor]
            if target != self.node and self.leases.holds(actor):
                log.info("node %s hands %s over to %s", self.node, actor, target)
                await self.drain(actor)
                await self.leases.release(actor)
            elif target == self.node and not self.leases.holds(actor):
                previous = await self.leases.state(actor)
                if previous == "held" or not await self.leases.acquire(actor):
                    continue
                self.taken_from[actor] = previous
                if self.on_acquired is not None:
                    started = self.on_acquired(actor)
                    if inspect.isawaitable(started):
                        await started

    async def leave(self) -> None:
        """Graceful exit: stop placing, drain and release every actor, then give the name up
        (the renewals go on meanwhile if :meth:`run` is running)."""
        self.placing = False
        async with self._pass:
            await self._hand_over_all()
        await self.membership.leave()

    async def _hand_over_all(self) -> None:
        for actor in self.leases.held():
            await self.drain(actor)
            await self.leases.release(actor)

    def _membership_lost(self, loss: LeaseLoss) -> None:
        """Others will take this node's actors: stop handling every one of them now."""
        self.leases.drop_all(loss.reason)
