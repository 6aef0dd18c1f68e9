"""The bus: delivery by name, topics, peer-to-peer links and dead letters in one place."""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import anyio

from ..actors import ActorCell, DeadLetterReason, Envelope, ReplySlot, current_cell, seconds
from ..errors import ActorNotFound, AskTimeout, NotLinked, SystemStopped
from ._dead_letters import DEAD_LETTERS_TOPIC, DeadLetter, DeadLetters
from ._delivery import LocalRecipient, Recipient, Route
from ._links import LinkGraph
from ._pace import Pace
from ._topics import Topics

if TYPE_CHECKING:
    from ..actors import ActorRef
    from ..system import ActorSystem


_new = object.__new__


class Bus:
    """Routes messages between the actors of one :class:`~letta_actors.ActorSystem`.

    The sender of a message is the actor whose task sends it (``None`` from outside any actor).
    With ``enforce_links=True`` an actor may only message peers it is linked to (:class:`NotLinked`
    otherwise); messages from outside actors and topic deliveries are not subject to links.

    It resolves names through the system's registry and hands envelopes over by the delivery
    contract (:mod:`letta_actors.bus._delivery`): to the local cell, or, for a name not held
    here, to the first :class:`Route` that knows it (:meth:`add_route`).
    """

    def __init__(
        self, system: ActorSystem, *, enforce_links: bool = False, dead_letter_capacity: int = 1000
    ) -> None:
        self._system = system
        registry = system.registry
        self._lookup = registry.get
        self.enforce_links = enforce_links
        self.links = LinkGraph()
        self.topics = Topics()
        registry.forgetters.append(self.topics.forget)
        self.dead_letters = DeadLetters(dead_letter_capacity, self._publish_dead_letter)
        self._next_id = registry.next_id
        self._pace = Pace()
        self._routes: tuple[Route, ...] = ()

    def bind_backend(self) -> None:
        """Resolve the running backend's checkpoints once (the system calls it on entry)."""
        self._pace.bind()

    # -- addressing -----------------------------------------------------------------------

    def _check_link(self, sender: ActorCell, name: str) -> None:
        if not self.links.linked(sender.name, name):
            raise NotLinked(sender.name, name)

    # Who will be blocked waiting once ``sender`` asks ``name``; refuses a cycle (AskCycle).
    # The cell's own method, called directly: no call of the bus's in between on the ask path.
    _chain = staticmethod(ActorCell.ask_chain)

    async def _deliver(self, cell: ActorCell, envelope: Envelope) -> None:
        """Hand ``envelope`` to the local ``cell`` when the inlined append could not."""
        await LocalRecipient(cell, self.dead_letters, self._require_running).deliver(envelope)

    async def accept(self, envelope: Envelope) -> None:
        """Hand ``envelope``, built elsewhere (a transport receiving from another process), to
        the local actor it names, by the delivery contract (``bus/_delivery.py``); never to a
        route. No local actor of that name: a tell becomes a dead letter
        (``UNKNOWN_RECIPIENT``), an ask raises :class:`ActorNotFound`."""
        cell = self._lookup(envelope.recipient)
        if cell is not None:
            await self._deliver(cell, envelope)
        elif envelope.reply_to is not None:
            raise ActorNotFound(envelope.recipient)
        else:
            self.dead_letters.record(envelope, DeadLetterReason.UNKNOWN_RECIPIENT)

    # -- routes: names held elsewhere -----------------------------------------------------

    def add_route(self, route: Route) -> None:
        """Let ``route`` serve the names this system does not hold (asked after the routes
        added before it). Adding a route twice does nothing; ``TypeError`` for an object
        without a ``recipient(name)`` method."""
        if not callable(getattr(route, "recipient", None)):
            raise TypeError(f"a route needs a recipient(name) method, got {route!r}")
        if not any(r is route for r in self._routes):
            self._routes = (*self._routes, route)

    def remove_route(self, route: Route) -> None:
        """Stop using ``route`` (removing one that was not added is not an error)."""
        self._routes = tuple(r for r in self._routes if r is not route)

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes, in the order they are asked."""
        return self._routes

    def _remote(self, name: str) -> Recipient | None:
        for route in self._routes:
            recipient = route.recipient(name)
            if recipient is not None:
                return recipient
        return None

    async def _tell_remote(self, envelope: Envelope) -> None:
        """Hand a tell for a name not held here to its route, or dead-letter it."""
        recipient = self._remote(envelope.recipient)
        if recipient is None:
            self.dead_letters.record(envelope, DeadLetterReason.UNKNOWN_RECIPIENT)
        else:
            await recipient.deliver(envelope)
        pace = self._pace
        pace.countdown -= 1
        if not pace.countdown:
            await pace.yield_turn()

    async def _ask_remote(self, envelope: Envelope, timeout: float) -> Any:
        """Hand an ask for a name not held here to its route and wait for the reply."""
        name = envelope.recipient
        recipient = self._remote(name)
        if recipient is None:
            raise ActorNotFound(name)
        reply = envelope.reply_to
        assert reply is not None
        try:
            with anyio.move_on_after(timeout) as scope:
                reply.deadline = scope.deadline
                await recipient.deliver(envelope)
                await reply.wait_done()
        finally:
            if not reply.done:
                reply.abandon()
        if reply.done:
            return reply.outcome()
        raise AskTimeout(name, timeout)

    async def send(self, name: str, cell: ActorCell | None, message: Any,
                   topic: str | None = None, message_id: str | None = None) -> None:  # fmt: skip
        """Tell ``message`` to ``name`` (resolved to ``cell``); see :meth:`tell`."""
        pending = self.post(name, cell, message, topic, message_id=message_id)
        if pending is not None:
            await pending

    def post(self, name: str, cell: ActorCell | None, message: Any, topic: str | None = None,
             *, checked: bool = False,
             message_id: str | None = None) -> Coroutine[Any, Any, None] | None:  # fmt: skip
        """:meth:`send` without a coroutine of its own, for the hot path of ``ActorRef.tell``.

        Returns ``None`` when the message is sent, or a coroutine the caller must await at once
        to complete the send (a cancellation, waiting for room, a turn for other tasks).
        ``checked``: the caller has just checked for cancellation.
        """
        pace = self._pace
        if not checked:
            if pace.task_of(pace.loop) is pace.task:  # pace.probe() for the same task, inlined
                scope = pace.state.cancel_scope
                while scope is not None:
                    if scope._cancel_called:
                        return self._send_if_not_cancelled(name, cell, message, topic, message_id)
                    if scope._shield:
                        break
                    scope = scope._parent_scope
            elif pace.probe is None or pace.probe():
                return self._send_if_not_cancelled(name, cell, message, topic, message_id)
        if not self._system.running:
            self._require_running()
        sender = current_cell.get()
        if sender is not None and self.enforce_links and topic is None:
            self._check_link(sender, name)
        # Envelope's __init__ inlined, every field (its frame cost ~0.1 us of a ~1.5 us tell).
        envelope = _new(Envelope)
        envelope.id = self._next_id() if message_id is None else message_id
        envelope.recipient = name
        envelope.payload = message
        envelope.sent_at = time.time()
        envelope.sender = sender.name if sender is not None else None
        envelope.topic = topic
        envelope.correlation_id = None
        envelope.chain = ()
        envelope.attempt = 1
        envelope.reply_to = None
        envelope.trace = None if (tracer := self._system.tracer) is None else tracer.capture()
        if cell is None:
            if self._routes:
                return self._tell_remote(envelope)
            self.dead_letters.record(envelope, DeadLetterReason.UNKNOWN_RECIPIENT)
        else:
            mailbox = cell.mailbox
            queued = mailbox.queued
            if len(queued) < mailbox.fast_capacity:  # Mailbox.try_put (0 when closed)
                queued.append(envelope)
                if mailbox.getter is not None:
                    mailbox.wake_getter()
                cell.stats.received += 1
            else:
                return self._deliver_and_count(cell, envelope)
        pace.countdown -= 1
        if not pace.countdown:
            return pace.yield_turn()
        return None

    async def _send_if_not_cancelled(
        self, name: str, cell: ActorCell | None, message: Any, topic: str | None,
        message_id: str | None = None,
    ) -> None:  # fmt: skip
        await self._pace.if_cancelled()
        pending = self.post(name, cell, message, topic, checked=True, message_id=message_id)
        if pending is not None:
            await pending

    async def _deliver_and_count(self, cell: ActorCell, envelope: Envelope) -> None:
        await self._deliver(cell, envelope)
        pace = self._pace
        pace.countdown -= 1
        if not pace.countdown:
            await pace.yield_turn()

    async def request(
        self,
        name: str,
        cell: ActorCell | None,
        message: Any,
        timeout: float | None,
        message_id: str | None = None,
    ) -> Any:
        """Ask ``name`` (resolved to ``cell``); see :meth:`ask`."""
        if timeout is None:
            timeout = self._system.ask_timeout
        elif timeout.__class__ is not float or not timeout > 0:
            timeout = seconds(timeout, "ask timeout")
        if not self._system.running:
            self._require_running()
        sender = current_cell.get()
        if sender is not None and self.enforce_links:
            self._check_link(sender, name)
        reply = ReplySlot(self._system.event_factory)
        envelope_id = self._next_id() if message_id is None else message_id
        if sender is None:
            envelope = Envelope(envelope_id, name, message, time.time(), None, None, envelope_id,
                                (), 1, reply)  # fmt: skip
        else:
            envelope = Envelope(envelope_id, name, message, time.time(), sender.name, None,
                                envelope_id, self._chain(sender, name), 1, reply)  # fmt: skip
        if (tracer := self._system.tracer) is not None:
            envelope.trace = tracer.capture()
        if cell is None:
            if self._routes:
                return await self._ask_remote(envelope, timeout)
            raise ActorNotFound(name)
        try:
            if cell.mailbox.try_put(envelope):
                cell.stats.received += 1
                # Most handlers answer within one turn of the event loop: check before arming
                # a timer (the timer costs more than the whole round trip).
                await self._pace.checkpoint()
                if reply.done:
                    if reply.error is None:
                        return reply.value
                    return reply.outcome()
                with anyio.move_on_after(timeout - (time.time() - envelope.sent_at)):
                    await reply.wait_done()
            else:
                with anyio.move_on_after(timeout):
                    await self._deliver(cell, envelope)
                    await reply.wait_done()
        except anyio.get_cancelled_exc_class():
            error = reply.error
            if isinstance(error, SystemStopped) and not self._system.running:
                # The system died of the handling (a KeyboardInterrupt...): say so, not "cancelled".
                raise error from error.__cause__
            raise
        finally:
            if not reply.done:
                reply.abandon()
        if reply.done:
            return reply.outcome()
        cell.stats.asks_timed_out += 1
        raise AskTimeout(name, timeout)

    def _require_running(self) -> None:
        if not self._system.running:
            raise SystemStopped(f"actor system {self._system.name!r} is not running")

    # -- public API -----------------------------------------------------------------------

    def name_of(self, to: str | ActorRef) -> str:
        """The actor name ``to`` addresses; a ref must belong to this bus's system.

        Raises ``ValueError`` for a ref of another system, ``TypeError`` for anything but a
        name or a ref.
        """
        if isinstance(to, str):
            return to
        system = getattr(to, "system", None)
        if system is self._system:
            return to.name
        if system is None:
            raise TypeError(f"expected an actor name or ActorRef, got {type(to).__name__}")
        raise ValueError(
            f"{to!r} belongs to actor system {system.name!r}, not to {self._system.name!r}"
        )

    def _cell(self, to: str | ActorRef) -> tuple[str, ActorCell | None]:
        name = self.name_of(to)
        return name, self._lookup(name)

    async def tell(
        self, to: str | ActorRef, message: Any, *, message_id: str | None = None
    ) -> None:
        """Send ``message`` to ``to`` without waiting for handling.

        ``message_id`` becomes the envelope's id (default: the next number of the system's
        counter), so a caller's own id shows in dead letters.

        A cancellation point (cancelled, it sends nothing), and a turn for other tasks every
        :data:`~letta_actors.bus.YIELD_EVERY` sends; otherwise waits only when the recipient's
        mailbox is full under ``block``. An unknown or stopped
        recipient, or a message dropped by the overflow policy, becomes a dead letter. Raises
        :class:`MailboxFull` (policy ``fail``), :class:`NotLinked` (links enforced) and
        :class:`SystemStopped` (the system has stopped).
        """
        name, cell = self._cell(to)
        await self.send(name, cell, message, None, message_id)

    async def ask(
        self,
        to: str | ActorRef,
        message: Any,
        *,
        timeout: float | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Send ``message`` to ``to`` and return its reply (``message_id``: as for :meth:`tell`).

        ``timeout`` (seconds, default the system's ``ask_timeout``; ``math.inf`` for none)
        covers queueing and handling: past it :class:`AskTimeout` is raised and a late reply is
        discarded (a recipient that has not started on the message skips it). Raises the
        recipient's own exception if its handler failed, :class:`ActorNotFound` /
        :class:`ActorStopped` for a missing recipient, :class:`AskCycle` when the recipient is
        already waiting on this sender (a deadlock), plus the errors of :meth:`tell`.
        """
        name, cell = self._cell(to)
        return await self.request(name, cell, message, timeout, message_id)

    async def publish(self, topic: str, message: Any) -> int:
        """Tell ``message`` to every subscriber of ``topic``, in subscription order.

        Each subscriber gets it through its own mailbox (with its overflow policy; a subscriber
        that is gone yields a dead letter). Returns the number of subscribers it was sent to.
        Like every send, a cancellation point; raises :class:`SystemStopped` once the system
        has stopped.
        """
        self._require_running()
        subscribers = self.topics.subscribers(topic)
        if not subscribers:
            await self._pace.if_cancelled()
        self.topics.published[topic] += 1
        for name in subscribers:
            await self.send(name, self._lookup(name), message, topic)
        return len(subscribers)

    def subscribe(self, topic: str, actor: str | ActorRef) -> None:
        """Subscribe an actor (by name or ref) to ``topic``."""
        self.topics.subscribe(topic, self.name_of(actor))

    def unsubscribe(self, topic: str, actor: str | ActorRef) -> None:
        self.topics.unsubscribe(topic, self.name_of(actor))

    def link(self, a: str, b: str, *, both_ways: bool = True) -> None:
        """Let ``a`` message ``b`` directly (and ``b`` message ``a`` unless ``both_ways=False``)."""
        self.links.link(a, b, both_ways=both_ways)

    def unlink(self, a: str, b: str, *, both_ways: bool = True) -> None:
        self.links.unlink(a, b, both_ways=both_ways)

    def linked(self, a: str, b: str) -> bool:
        return self.links.linked(a, b)

    def peers(self, name: str) -> frozenset[str]:
        return self.links.peers(name)

    # -- dead letters on their topic ------------------------------------------------------

    def _publish_dead_letter(self, letter: DeadLetter) -> None:
        """Offer the dead letter to each watcher without waiting (never recursing)."""
        subscribers = self.topics.subscribers(DEAD_LETTERS_TOPIC)
        if not subscribers:
            return
        self.topics.published[DEAD_LETTERS_TOPIC] += 1
        for name in subscribers:
            cell = self._lookup(name)
            if cell is None:
                continue
            envelope = Envelope(self._next_id(), name, letter, time.time(), None,
                                DEAD_LETTERS_TOPIC)  # fmt: skip
            mailbox = cell.mailbox
            if len(mailbox) < mailbox.capacity and not mailbox.closed:
                mailbox.offer(envelope)
                cell.stats.received += 1
            else:
                cell.stats.dropped += 1  # a watcher that cannot keep up misses notifications
