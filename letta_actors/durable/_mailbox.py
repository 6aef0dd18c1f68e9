"""Durable mailboxes: a told message is stored before ``tell`` returns, forgotten once done.

A :class:`DurableMailbox` keeps the in-memory queue of :class:`~letta_actors.actors.Mailbox`
(the actor's loop is the same) and adds the store around it:

- a tell is stored first, then queued (:meth:`~DurableMailbox.put`; ``fast_path`` is off so the
  bus always comes here). A payload that cannot be stored raises ``TypeError`` at the tell.
  Its id is made unique across processes first (:meth:`DurableStore.message_id`: an int id
  becomes ``"<boot>.<n>"``, a sender's str id is kept): a Letta agent sends it as the
  ``otid``, the same before and after a crash;
- when the cell is done with it (:meth:`~DurableMailbox.settle`: handled, or dead-lettered
  because its handling failed) it is acknowledged, i.e. deleted from the store; a message the
  overflow policy drops is acknowledged too;
- what the actor did not get to handle because it stopped (cancelled at its stop deadline, or
  still queued) stays stored: the next instance after a restart, or the next start of an actor
  of that name (in this process, or in the next one on the same file) gets it first, oldest
  first, before any new message. A message that may have been handled before is marked
  ``attempt > 1`` (so a Letta agent looks its ``otid`` up instead of sending it again): one
  cut short by a stop, and every message restored from the file by the next process.

Asks, runtime notifications (``Terminated``, a supervisor's own messages) and dead-letter
notifications stay in memory only: their waiting caller, or the process they describe, does
not outlive a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, ClassVar, Literal

import anyio

from ..actors import Envelope, Mailbox, MailboxConfig
from ..bus import DEAD_LETTERS_TOPIC
from ..errors import ActorStopped, MailboxFull
from ..system import ROOT

if TYPE_CHECKING:
    from ._store import DurableStore

Rows = list[tuple[int, Envelope]]


class Mailboxes:
    """The mailbox factory :meth:`DurableStore.attach` installs as ``system.mailbox_factory``:
    durable mailboxes for the selected names, plain ones for the rest. It holds the stored
    messages no mailbox has taken yet (loaded at attach, or left by an actor that stopped)."""

    def __init__(
        self,
        store: DurableStore,
        actors: Collection[str] | Callable[[str], bool],
    ) -> None:
        if callable(actors):
            self._select = actors
        elif isinstance(actors, str) or not all(isinstance(a, str) for a in actors):
            raise TypeError(f"actors must be a collection of names or a test, got {actors!r}")
        else:
            self._select = frozenset(actors).__contains__
        self.store = store
        self._pending: dict[str, Rows] = {}

    def __call__(
        self, name: str, config: MailboxConfig, event_factory: Callable[[], anyio.Event]
    ) -> Mailbox:
        if self.selects(name):
            return DurableMailbox(name, config, event_factory, self)
        return Mailbox(name, config, event_factory)

    def waiting(self) -> list[str]:
        """The actors with stored messages no mailbox has taken (not started yet)."""
        return [name for name, rows in self._pending.items() if rows]

    def selects(self, name: str) -> bool:
        """Whether the actor ``name`` gets a durable mailbox."""
        return name != ROOT and self._select(name)

    def take(self, name: str) -> Rows:
        """The stored messages left for ``name``, oldest first (each handed out once)."""
        rows = self._pending.pop(name, [])
        rows.sort(key=lambda row: row[0])
        return rows

    def keep(self, name: str, rows: Rows) -> None:
        """Hand back messages ``name`` did not handle (for its next start)."""
        self._pending.setdefault(name, []).extend(rows)


class DurableMailbox(Mailbox):
    """A mailbox whose tells are stored before they are queued (see the module docstring).

    The overflow policy applies as in memory, counting the tells being stored: ``block`` waits
    for room before storing, ``drop_newest`` and ``fail`` refuse without storing,
    ``drop_oldest`` stores, then drops (and acknowledges) the oldest.
    """

    fast_path: ClassVar[bool] = False

    __slots__ = ("_owner", "_requeued", "_rows", "_storing")

    def __init__(
        self,
        name: str,
        config: MailboxConfig,
        event_factory: Callable[[], anyio.Event],
        owner: Mailboxes,
    ) -> None:
        super().__init__(name, config, event_factory)
        self._owner = owner
        #: The sequence number in the store of each queued (or being handled) stored message.
        self._rows: dict[Envelope, int] = {}
        self._storing = 0  # tells being stored: they have room reserved
        #: Put back at the head by :meth:`settle` after a cancelled handling.
        self._requeued: set[Envelope] = set()
        self._restore()

    def _restore(self) -> None:
        for seq, envelope in self._owner.take(self.name):
            self._rows[envelope] = seq
            self._append(envelope)

    @staticmethod
    def stored(envelope: Envelope) -> bool:
        """Whether ``envelope`` is kept in the store: tells, not asks or notifications."""
        return envelope.reply_to is None and envelope.topic != DEAD_LETTERS_TOPIC

    def _full(self) -> bool:
        return len(self.queued) + self._storing >= self.capacity

    def try_put(self, envelope: Envelope) -> bool:
        return False if self.stored(envelope) else super().try_put(envelope)

    def offer(self, envelope: Envelope) -> Envelope | Literal[False] | None:
        """As :meth:`Mailbox.offer`, except that a tell to store is never queued here: ``False``
        means "await :meth:`put`" (it stores, then queues)."""
        if not self.stored(envelope):
            return super().offer(envelope)
        if self.closed:
            raise ActorStopped(self.name, "is stopping")
        if self._full():
            if self.overflow == "drop_newest":
                return envelope
            if self.overflow == "fail":
                raise MailboxFull(self.name, self.capacity)
        return False

    async def put(self, envelope: Envelope) -> Envelope | None:
        """Store, then queue; returns the envelope dropped by the overflow policy, if any.

        Raises ``TypeError`` (payload not storable), :class:`MailboxFull` (``fail``),
        :class:`ActorStopped` (closed, also if it closed while storing: the message is then
        forgotten) and :class:`~letta_actors.durable.StoreError`. A cancellation while waiting
        for room stores nothing; once storing began it completes and the message is queued.
        """
        if not self.stored(envelope):
            return await super().put(envelope)
        store = self._owner.store
        data = store.encode(envelope)
        outcome = self.offer(envelope)
        if outcome is not False:
            return outcome
        if self.overflow == "block":
            await self._room()
        self._storing += 1
        try:
            with anyio.CancelScope(shield=True):
                seq = await store.append(self.name, data)
        except BaseException:
            self._storing -= 1
            if self.putters and not self._full():
                self.wake_putter()  # the room it had reserved
            raise
        self._storing -= 1
        if self.closed:
            store.ack(self.name, seq)
            raise ActorStopped(self.name, "is stopping")
        dropped = None
        if len(self.queued) >= self.capacity:  # drop_oldest: the others reserved their room
            dropped = self.queued.popleft()
            self._forget(dropped)
        self._rows[envelope] = seq
        self._append(envelope)
        return dropped

    async def _room(self) -> None:
        """Wait until a tell may be stored under ``block``; :class:`ActorStopped` if closed."""
        while self._full() and not self.closed:
            await self.wait_in_line(lambda: not self._full())
        if self.closed:
            raise ActorStopped(self.name, "is stopping")

    def _forget(self, envelope: Envelope) -> None:
        seq = self._rows.pop(envelope, None)
        if seq is not None:
            self._owner.store.ack(self.name, seq)

    def settle(self, envelope: Envelope, cut_short: bool = False) -> None:
        """Acknowledge ``envelope`` (handled, or dead-lettered after its handling failed), unless
        its handling was cut short by a stop (a cancellation from outside): then it stays
        stored, back at the head of the queue, for the next instance (after a restart) or the
        next start (the queue is drained and kept when the actor stops), its ``attempt``
        counted (it may have had effects)."""
        seq = self._rows.get(envelope)
        if seq is None:
            return
        if cut_short:
            envelope.attempt += 1
            self._requeued.add(envelope)  # dead-lettered (cancelled) already
            self.put_front(envelope)
        else:
            del self._rows[envelope]
            self._requeued.discard(envelope)
            self._owner.store.ack(self.name, seq)

    def drain(self) -> list[Envelope]:
        """Remove everything queued and return it (the cell dead-letters it as not processed)
        but the messages cut short by this stop (dead-lettered already); the stored ones stay
        stored, for the next start of this actor."""
        items = super().drain()
        kept = [(self._rows.pop(e), e) for e in items if e in self._rows]
        if kept:
            self._owner.keep(self.name, kept)
        requeued, self._requeued = self._requeued, set()
        return [e for e in items if e not in requeued]

    def reopen(self) -> None:
        """Accept messages again, starting with the stored ones left by the last stop."""
        super().reopen()
        self._restore()
