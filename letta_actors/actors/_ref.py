"""Refs: handles that address an actor by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic

from ._cell import ActorState
from ._types import MsgT, ReplyT

_STOPPED = ActorState.STOPPED

if TYPE_CHECKING:
    from ..system import ActorSystem
    from ._cell import ActorCell


class ActorRef(Generic[MsgT, ReplyT]):
    """A handle to the actor registered under ``name``.

    ``ActorRef[Msg, Reply]`` (what ``spawn`` returns for an ``Actor[Msg, Reply]``): ``tell`` and
    ``ask`` take a ``Msg``, ``ask`` returns a ``Reply``. A ref obtained by name
    (``system.ref("x")``) is ``ActorRef[Any, Any]``; annotate it to narrow it.

    A ref addresses the *name*, not an instance: it stays valid across supervisor restarts, and
    after the actor stopped it reaches whatever is registered under that name later. Sending
    to a name nobody holds follows the bus rules (``tell`` dead-letters, ``ask`` raises
    :class:`~letta_actors.ActorNotFound`). Refs compare equal when they name the same actor in
    the same system.
    """

    __slots__ = ("_cell", "name", "system")

    def __init__(self, system: ActorSystem, name: str, cell: ActorCell | None = None) -> None:
        self.system = system
        self.name = name
        self._cell = cell

    def __repr__(self) -> str:
        return f"ActorRef({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ActorRef) and other.name == self.name and other.system is self.system
        )

    def __hash__(self) -> int:
        return hash(self.name)

    def _resolve(self) -> ActorCell | None:
        cell = self._cell
        if cell is None or cell.state is _STOPPED:
            # a new holder of the name, if any
            cell = self._cell = self.system.registry.get(self.name)
        return cell

    async def tell(self, message: MsgT) -> None:
        """Enqueue ``message`` (see :meth:`letta_actors.bus.Bus.tell`): a cancellation point that
        waits only under backpressure (overflow policy ``block``) and gives other tasks a turn
        every few sends."""
        cell = self._cell
        if cell is None or cell.state is _STOPPED:
            cell = self._resolve()
        pending = self.system.bus.post(self.name, cell, message)
        if pending is not None:
            await pending

    async def ask(self, message: MsgT, *, timeout: float | None = None) -> ReplyT:
        """Send ``message`` and wait for the reply (see :meth:`letta_actors.bus.Bus.ask`)."""
        reply: ReplyT = await self.system.bus.request(self.name, self._resolve(), message, timeout)
        return reply

    async def stop(self, *, timeout: float | None = None) -> None:
        """Stop the actor for good: it handles what is queued until ``timeout`` (default: its
        shutdown budget), then its handling is cancelled and what is left goes to dead letters.
        Returns once it has stopped. Stopping an actor that is not running does nothing."""
        await self.system.stop(self.name, timeout=timeout)

    @property
    def alive(self) -> bool:
        """True while an actor is registered under this name and not stopped for good."""
        cell = self._resolve()
        return cell is not None and cell.mailbox.closed is False
