"""Mailboxes of the actors the cluster places: fenced by the lease, and durable on JetStream.

:class:`ClusterMailbox` hands an envelope to its actor only while this node holds the actor's
lease, checked at every take (the cell's inline take reads a view of the queue that is empty
while the lease is not held, and :meth:`~ClusterMailbox.get` checks it too). A node resumed
after a pause past its lease therefore finds out before it handles the next message: the
envelope is put back and the consumer waits until the runtime stops the actor (what is queued
is kept for the durable ones, see below).

:class:`StreamMailbox` adds the durable side, for actors placed with ``durable=True``: a tell is
published to the actor's subject of the JetStream stream (with a message id; concurrent tells
may be stored together as one message) and ``tell`` returns once JetStream stored it; it is
queued here only when the owner's consumer receives it from the stream
(:meth:`StreamMailbox.deliver`), so local and remote senders go through one ordered stream. A
stream message is acknowledged when the cell settled its (last) tell (handled, or
dead-lettered after its handling failed); a message whose handling a stop cut short, and
every message still queued when the actor stops, stays unacknowledged in the stream for the
next owner (with the other tells of its stream message). JetStream delivers at most
``capacity`` unacknowledged stream messages at a time (each of up to 64 tells); the overflow
policy applies to asks; the tells waiting in the stream are bounded by the stream's limits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal, Protocol

import anyio

from ..actors import Envelope, Mailbox, MailboxConfig, Takeable
from ..bus import DEAD_LETTERS_TOPIC


class ClusterMailbox(Mailbox):
    """A mailbox that hands out envelopes only while ``owns(name)`` (see the module docstring)."""

    fast_path: ClassVar[bool] = False

    __slots__ = ("_owns",)

    def __init__(
        self,
        name: str,
        config: MailboxConfig,
        event_factory: Callable[[], anyio.Event],
        owns: Callable[[str], bool],
    ) -> None:
        super().__init__(name, config, event_factory)
        self._owns = owns

    def takeable(self) -> Takeable:
        """The queue, seen empty while this node does not own the actor."""
        return _Owned(self.queued, self._owns, self.name)

    async def get(self) -> Envelope:
        """The next envelope, if this node still owns the actor; otherwise the envelope is put
        back and this waits until the actor is stopped (the stop cancels the wait)."""
        envelope = await super().get()
        if self._owns(self.name):
            return envelope
        self.put_front(envelope)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover


class _Owned:
    """A queue as the cell's inline take sees it: empty unless ``owns(name)``."""

    __slots__ = ("_name", "_owns", "_queued", "popleft")

    def __init__(self, queued: deque[Envelope], owns: Callable[[str], bool], name: str) -> None:
        self._queued = queued
        self._owns = owns
        self._name = name
        self.popleft = queued.popleft

    def __len__(self) -> int:
        queued = self._queued
        return len(queued) if queued and self._owns(self._name) else 0


#: The stream message of an envelope stored with others is acknowledged with the last of them.
_WITH_LAST = object()


class Stream(Protocol):
    """The JetStream side of a :class:`StreamMailbox` (the runtime's transport)."""

    def publish(self, envelope: Envelope) -> Awaitable[None]:
        """Store ``envelope`` in its recipient's subject; returns once JetStream acknowledged."""

    def ack(self, message: Any) -> None:
        """Acknowledge a delivered JetStream message (done: it leaves the stream)."""


class StreamMailbox(ClusterMailbox):
    """A durable mailbox on a JetStream stream (see the module docstring)."""

    __slots__ = ("_messages", "_requeued", "_stream")

    def __init__(
        self,
        name: str,
        config: MailboxConfig,
        event_factory: Callable[[], anyio.Event],
        owns: Callable[[str], bool],
        stream: Stream,
    ) -> None:
        super().__init__(name, config, event_factory, owns)
        self._stream = stream
        #: The JetStream message of each queued (or being handled) envelope.
        self._messages: dict[Envelope, Any] = {}
        self._requeued: set[Envelope] = set()

    @staticmethod
    def stored(envelope: Envelope) -> bool:
        """Whether ``envelope`` goes through the stream: tells, not asks or notifications."""
        return envelope.reply_to is None and envelope.topic != DEAD_LETTERS_TOPIC

    def try_put(self, envelope: Envelope) -> bool:
        return False if self.stored(envelope) else super().try_put(envelope)

    def offer(self, envelope: Envelope) -> Envelope | Literal[False] | None:
        """As :meth:`Mailbox.offer` for asks; a tell is never queued here (``False``: await
        :meth:`put`, which publishes it), not even refused when closed."""
        if not self.stored(envelope):
            return super().offer(envelope)
        return False

    async def put(self, envelope: Envelope) -> Envelope | None:
        """Publish a tell to the stream (returns once stored; never drops one), or queue an
        ask as :meth:`Mailbox.put`. A tell is published even while the mailbox is closed (the
        actor stopping, e.g. handed over or lost): the stream is the mailbox, and the next
        instance or owner gets it. Raises ``TypeError`` for a payload that cannot be stored,
        :class:`~letta_actors.cluster.PayloadTooLarge` and
        :class:`~letta_actors.cluster.ClusterUnavailable` (nothing stored then)."""
        if not self.stored(envelope):
            return await super().put(envelope)
        await self._stream.publish(envelope)  # also while closed: the stream is the mailbox
        return None

    def deliver(self, envelopes: list[Envelope], message: Any) -> None:
        """Queue ``envelopes``, delivered from the stream as one ``message``: it is
        acknowledged when the last of them is settled (the ones before are settled first)."""
        last = len(envelopes) - 1
        for i, envelope in enumerate(envelopes):
            self._messages[envelope] = message if i == last else _WITH_LAST
            self._append(envelope)

    def settle(self, envelope: Envelope, cut_short: bool = False) -> None:
        """Acknowledge ``envelope`` in the stream, unless a stop cut its handling short: then it
        goes back to the head of the queue, unacknowledged, its ``attempt`` counted."""
        message = self._messages.get(envelope)
        if message is None:
            return
        if cut_short:
            envelope.attempt += 1  # it may have had effects: a Letta agent looks it up first
            self._requeued.add(envelope)  # dead-lettered (cancelled) already
            self.put_front(envelope)
            return
        del self._messages[envelope]
        self._requeued.discard(envelope)
        if message is not _WITH_LAST:
            self._stream.ack(message)

    def drain(self) -> list[Envelope]:
        """Remove what is queued (the cell dead-letters it as not processed); the delivered ones
        stay unacknowledged in the stream, for the next owner or the next start."""
        items = super().drain()
        for envelope in items:
            self._messages.pop(envelope, None)
        requeued, self._requeued = self._requeued, set()
        return [e for e in items if e not in requeued]
