"""Node membership: one live node per name, through a lease on the name.

:meth:`Membership.join` creates the node's key in ``<prefix>_nodes`` only if absent, so a
second node started with the same name is refused with :class:`NodeNameTaken` while the first
one lives (and for up to one TTL after it died without leaving). The key is renewed like any
lease; :meth:`nodes` lists the live ones.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from anyio.abc import TaskStatus

from ._connection import ClusterConnection
from ._errors import NodeNameTaken
from ._leases import Clock, LeaseLoss, Leases, lease_clock
from ._settings import ClusterSettings


class Membership:
    """This node's membership; a task must run :meth:`run` to keep it alive."""

    def __init__(
        self,
        conn: ClusterConnection,
        settings: ClusterSettings,
        *,
        on_lost: Callable[[LeaseLoss], None] | None = None,
        clock: Clock = lease_clock,
    ) -> None:
        self.node = settings.node
        self.leases = Leases.of_node(conn, settings, "nodes", on_lost=on_lost, clock=clock)

    async def join(self) -> None:
        """Take this node's name. Raises :class:`NodeNameTaken` if a live node has it, or
        :class:`~letta_actors.cluster.ClusterUnavailable`."""
        await self.leases.open()
        if not await self.leases.acquire(self.node):
            raise NodeNameTaken(self.node)

    @property
    def alive(self) -> bool:
        """Whether this node still holds its name (False once it lapsed or it left)."""
        return self.leases.holds(self.node)

    async def nodes(self) -> list[str]:
        """The live nodes' names, sorted (this one included while it is alive)."""
        found = set(await self.leases.owners())
        if self.alive:
            found.add(self.node)
        return sorted(found)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Renew the membership until cancelled."""
        await self.leases.run(task_status=task_status)

    async def leave(self) -> None:
        """Give the name up (other nodes see this node gone at once)."""
        await self.leases.release(self.node)
