"""The registry: the names of one actor system and the cells that hold them.

It is the actor layer's seam to the layers above. Supervisors register the cells they start,
post runtime notifications to them and retire them; the bus resolves names through it; the
system's facade and observers (metrics, the daemon) read it. Each
:class:`~letta_actors.ActorSystem` has its own (``system.registry``): two systems in one process
never see each other's names.

Contract:

- :meth:`ActorRegistry.register` refuses a taken name (:class:`~letta_actors.NameTaken`) and,
  through the guard it was given, a stopped system (:class:`~letta_actors.SystemStopped`).
- :meth:`ActorRegistry.retire` stops a cell for good, once: its queue is dead-lettered, each
  retire listener gets its final :class:`ActorInfo` (a failing listener is logged, never
  raised), the name is freed, each forgetter drops what it kept under the name (the bus: topic
  subscriptions), and every watcher is posted :class:`Terminated`.
- :meth:`ActorRegistry.post` queues a runtime notification ignoring the mailbox's capacity; to
  a closed mailbox it is dropped (the recipient is stopping: nothing will read it).
- The event loop is the only writer. :meth:`ActorRegistry.cells` may be called from another
  thread (a metrics scrape).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from ..errors import ActorNotFound, NameTaken
from ._cell import ActorCell, ActorState
from ._envelope import Envelope
from ._info import ActorInfo
from ._monitor import Terminated

log = logging.getLogger("letta_actors.actors")


def _open() -> None:
    return None


def _raise(error: BaseException, what: str) -> None:
    raise error


class ActorRegistry:
    """Names → cells of one actor system, with its watchers and retire listeners.

    ``guard`` is called before a cell is registered and raises to refuse it (the system passes
    its "is it running?" check). ``fail(error, what)`` stops the whole system: a cell calls it
    (:attr:`fail`) when a ``BaseException`` that is no ``Exception`` escapes its actor.
    """

    def __init__(
        self,
        *,
        guard: Callable[[], None] = _open,
        fail: Callable[[BaseException, str], None] = _raise,
    ) -> None:
        self._cells: dict[str, ActorCell] = {}
        self._watchers: dict[str, set[str]] = {}
        self._guard = guard
        #: Stops the system because of an error that escaped an actor (see above).
        self.fail = fail
        #: The cell registered under a name, or ``None`` (the dict's own ``get``: the bus and
        #: refs resolve names on their hot paths).
        self.get: Callable[[str], ActorCell | None] = self._cells.get
        #: Makes message ids, unique in this registry's system (the bus uses it too).
        self.next_id: Callable[[], int] = itertools.count(1).__next__
        #: Called with the final :class:`ActorInfo` of each actor that stops for good (before
        #: its name is freed), in the event loop. Observers (metrics) use it to keep totals.
        self.retire_listeners: list[Callable[[ActorInfo], None]] = []
        #: Called with the name of each actor that stopped for good, once its name is freed
        #: (the bus forgets its topic subscriptions).
        self.forgetters: list[Callable[[str], None]] = []

    # -- reading --------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._cells

    def __len__(self) -> int:
        return len(self._cells)

    def cells(self) -> list[ActorCell]:
        """The registered cells in registration order (a copy, safe from a foreign thread)."""
        cells = self._cells
        for _ in range(10):
            try:
                return list(cells.values())
            except RuntimeError:  # changed size mid-copy: the event loop registered one
                continue
        return list(cells.copy().values())

    def info(self, name: str) -> ActorInfo | None:
        """A snapshot of the actor ``name``, or ``None`` when no actor holds it."""
        cell = self._cells.get(name)
        return ActorInfo.of(cell) if cell is not None else None

    def infos(self) -> list[ActorInfo]:
        """A snapshot of every registered actor, in registration order."""
        return [ActorInfo.of(cell) for cell in self._cells.values()]

    # -- registering ----------------------------------------------------------------------

    def register(self, cell: ActorCell) -> None:
        """Register ``cell`` under its name; raises :class:`NameTaken` when the name is held
        (or what the guard raises)."""
        self._guard()
        if cell.name in self._cells:
            raise NameTaken(cell.name)
        self._cells[cell.name] = cell

    def unregister(self, cell: ActorCell) -> None:
        """Free ``cell``'s name (nothing happens if another cell holds it now)."""
        if self._cells.get(cell.name) is cell:
            del self._cells[cell.name]

    def retire(self, cell: ActorCell, reason: str, error: BaseException | None = None) -> None:
        """Stop ``cell`` for good (see the module docstring); a second call does nothing."""
        if cell.state is ActorState.STOPPED and self._cells.get(cell.name) is not cell:
            return
        cell.finalize()
        if self.retire_listeners:
            info = ActorInfo.of(cell)
            for listener in self.retire_listeners:
                try:
                    listener(info)
                except Exception:
                    log.exception("retire listener %r failed", listener)
        self.unregister(cell)
        for forget in self.forgetters:
            forget(cell.name)
        for watcher in sorted(self._watchers.pop(cell.name, ())):
            self._notify(watcher, Terminated(cell.name, reason, error))

    # -- runtime notifications ------------------------------------------------------------

    def post(self, cell: ActorCell, payload: Any) -> None:
        """Queue ``payload`` for ``cell`` ignoring capacity (dropped only if its mailbox closed)."""
        envelope = Envelope(self.next_id(), cell.name, payload, time.time())
        if cell.mailbox.force(envelope):
            cell.stats.received += 1

    def watch(self, watcher: str, watched: str) -> None:
        """Post :class:`Terminated` to ``watcher`` when ``watched`` is retired (once).

        A ``watched`` name nobody holds gets ``Terminated(watched, "noproc")`` posted at once.
        Raises :class:`ActorNotFound` when nobody holds the ``watcher`` name.
        """
        if watcher not in self._cells:
            raise ActorNotFound(watcher)
        if watched not in self._cells:
            self._notify(watcher, Terminated(watched, "noproc"))
            return
        self._watchers.setdefault(watched, set()).add(watcher)

    def unwatch(self, watcher: str, watched: str) -> None:
        """Forget a watch (forgetting one that does not exist is not an error)."""
        watchers = self._watchers.get(watched)
        if watchers is not None:
            watchers.discard(watcher)

    def _notify(self, watcher: str, message: Terminated) -> None:
        cell = self._cells.get(watcher)
        if cell is not None:
            self.post(cell, message)
