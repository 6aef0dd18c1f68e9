"""The actor base class: subclass it and implement :meth:`Actor.receive`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from ._reply import ReplySlot
from ._types import MsgT, ReplyT

if TYPE_CHECKING:
    from ..system import ActorSystem
    from ._cell import ActorCell
    from ._envelope import Envelope
    from ._ref import ActorRef
    from ._stats import ActorStats

Msg = TypeVar("Msg")
Reply = TypeVar("Reply")


class Actor(Generic[MsgT, ReplyT]):
    """An actor: private state, a mailbox, one message handled at a time.

    Typing: ``Actor[Msg, Reply]`` declares what :meth:`receive` takes and returns; then
    ``system.spawn`` gives an ``ActorRef[Msg, Reply]`` whose ``ask`` returns ``Reply`` and whose
    ``tell``/``ask`` refuse other messages under mypy. A bare ``Actor`` is ``Actor[Any, Any]``.

    Lifecycle: the runtime creates an instance (from a class or a zero-argument factory), awaits
    :meth:`on_start`, then calls :meth:`receive` for each message in mailbox order, never two at
    once. :meth:`on_stop` runs whenever the instance ends: on stop, after a crash, before a
    restart. A supervisor restart makes a *new* instance; the mailbox, the name and the refs
    held elsewhere stay valid.

    Failure: an exception raised by :meth:`receive` reaches an asker as that exception (with a
    note naming the actor); a told message whose handling raised goes to dead letters with the
    error (or is redelivered, up to the child's ``max_attempts``). Then, when
    :attr:`restart_on_error` is true (the default, as in Erlang/OTP), the instance crashes and its
    supervisor decides what happens; when false, the same instance goes on with the next message.
    """

    #: Crash the instance when :meth:`receive` raises (the supervisor then restarts it, or not).
    restart_on_error: ClassVar[bool] = True
    #: Cancel the handling of an ask whose asker has given up (timed out or was cancelled).
    cancel_abandoned_asks: ClassVar[bool] = False
    #: Seconds a stopping instance gets to finish its queue and ``on_stop`` when its spec gives
    #: no ``shutdown`` budget; past it, handling is cancelled.
    default_shutdown: ClassVar[float] = 5.0
    #: Whether instances supervise children (:class:`~letta_actors.Supervisor` sets it): the
    #: one answer to "is this actor a supervisor?" (``ActorInfo.is_supervisor``).
    is_supervisor: ClassVar[bool] = False

    _cell: ActorCell

    # -- identity -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The name this actor is registered under."""
        return self._cell.name

    @property
    def system(self) -> ActorSystem:
        """The :class:`~letta_actors.ActorSystem` the actor lives in."""
        return self._cell.system

    @property
    def ref(self) -> ActorRef[MsgT, ReplyT]:
        """A ref to this actor."""
        return self._cell.system.ref(self._cell.name)

    @property
    def stats(self) -> ActorStats:
        """This actor's counters (kept under its name: they survive restarts)."""
        return self._cell.stats

    @property
    def envelope(self) -> Envelope | None:
        """The envelope being handled (``None`` outside :meth:`receive`)."""
        return self._cell.current

    @property
    def sender(self) -> str | None:
        """The name of the actor that sent the current message (``None`` if sent from outside)."""
        current = self._cell.current
        return current.sender if current is not None else None

    # -- lifecycle hooks ------------------------------------------------------------------

    async def on_start(self) -> None:
        """Called before the first message. Raising here fails the start (or the restart)."""

    async def on_stop(self) -> None:
        """Called when this instance ends, whatever the reason. Bounded by the shutdown budget."""

    async def receive(self, message: MsgT) -> ReplyT:
        """Handle one message; the return value is the reply to an ``ask``."""
        raise NotImplementedError(f"{type(self).__name__} must implement receive()")

    # -- talking to others ----------------------------------------------------------------

    @overload
    async def tell(self, to: ActorRef[Msg, Any], message: Msg) -> None: ...
    @overload
    async def tell(self, to: str, message: Any) -> None: ...
    async def tell(self, to: str | ActorRef[Any, Any], message: Any) -> None:
        """Send ``message`` to another actor (by name or ref), this actor as the sender."""
        await self._cell.system.bus.tell(to, message)

    @overload
    async def ask(
        self, to: ActorRef[Msg, Reply], message: Msg, *, timeout: float | None = None
    ) -> Reply: ...
    @overload
    async def ask(self, to: str, message: Any, *, timeout: float | None = None) -> Any: ...
    async def ask(
        self, to: str | ActorRef[Any, Any], message: Any, *, timeout: float | None = None
    ) -> Any:
        """Ask another actor and wait for its reply (see :meth:`letta_actors.bus.Bus.ask`).

        Asked by ref, the reply has the ref's reply type; asked by name, it is ``Any``.
        """
        return await self._cell.system.bus.ask(to, message, timeout=timeout)

    async def reply(self, message: Any) -> None:
        """Tell ``message`` to the sender of the current message.

        Raises ``RuntimeError`` when the current message did not come from an actor. (To answer
        an ``ask``, return the answer from :meth:`receive`, or use :meth:`defer_reply`.)
        """
        sender = self.sender
        if sender is None:
            raise RuntimeError(f"{self.name}: the current message has no sending actor")
        await self.tell(sender, message)

    async def publish(self, topic: str, message: Any) -> int:
        """Publish on a topic; returns the number of subscribers it was delivered to."""
        return await self._cell.system.bus.publish(topic, message)

    def defer_reply(self) -> ReplySlot:
        """Answer the current ask later: the return value of :meth:`receive` is then ignored.

        Resolve the returned slot with ``set_result`` / ``set_error`` from any task. Raises
        ``RuntimeError`` when the current message is not an ask.
        """
        return self._cell.defer_reply()

    def stop(self) -> None:
        """Stop this actor after the messages already queued (a normal exit)."""
        self._cell.request_stop(drain=True)
