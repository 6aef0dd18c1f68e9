"""Bounded mailboxes with a per-actor overflow policy."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import ClassVar, Literal, Protocol

import anyio
from pydantic import BaseModel, ConfigDict, Field

from ..errors import ActorStopped, MailboxFull
from ._envelope import Envelope

Overflow = Literal["block", "drop_newest", "drop_oldest", "fail"]


class MailboxConfig(BaseModel):
    """Mailbox settings of one actor; invalid values raise ``pydantic.ValidationError``.

    - ``capacity``: messages it holds before ``overflow`` applies (default 1000).
    - ``overflow``: what a send to a full mailbox does:
      ``block`` waits for room (backpressure, default); ``drop_newest`` drops the new message;
      ``drop_oldest`` drops the oldest queued message to make room; ``fail`` raises
      :class:`~letta_actors.MailboxFull` to the sender. Dropped messages go to dead letters.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity: int = Field(default=1000, ge=1, le=10_000_000, strict=True)
    overflow: Overflow = "block"


class _Wakeup(Protocol):
    """What the consumer waits on while the mailbox is empty (an ``anyio.Event`` will do)."""

    def set(self) -> None: ...

    def wait(self) -> Awaitable[object]: ...


class _FutureWakeup:
    """The consumer's wake-up on asyncio: a bare future of the running loop.

    Awaiting it is what ``anyio.Event.wait`` ends up doing, minus two coroutines and
    ``asyncio.Event``'s bookkeeping: half of what an ``ask`` cost over a raw queue and future
    went there (1.50x -> 1.23x, ``docs/benchmarks.md``).
    Cancelling the waiting task cancels the future; a later :meth:`set` does nothing.
    """

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def set(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        return self._future


def _wakeup_factory(event_factory: Callable[[], anyio.Event]) -> Callable[[], _Wakeup]:
    """A bare future on asyncio when ``event_factory`` is anyio's own event; else the factory."""
    if anyio.get_cancelled_exc_class() is asyncio.CancelledError and (
        event_factory is anyio.Event or event_factory is type(anyio.Event())
    ):
        return _FutureWakeup
    return event_factory


class Takeable(Protocol):
    """What the cell takes from directly while it is not empty (:meth:`Mailbox.takeable`)."""

    def __len__(self) -> int: ...

    def popleft(self) -> Envelope: ...


class MailboxClosed(Exception):
    """Raised by :meth:`Mailbox.get` once the mailbox is closed and empty."""


class Mailbox:
    """A FIFO of envelopes with one consumer (the actor) and any number of producers.

    It outlives actor instances: a supervisor restart keeps the mailbox and its queued messages.
    ``close()`` refuses new messages (:class:`ActorStopped`) while the consumer drains the rest.

    A subclass that must see every message (e.g. to persist it) sets :attr:`fast_path` to
    ``False`` and overrides :meth:`offer` / :meth:`put` / :meth:`force`.
    """

    #: True: the bus appends to :attr:`queued` itself when there is room (``Bus.post``, and
    #: :meth:`try_put` for asks) and the cell takes from it directly when it is not empty.
    #: False: every send goes through :meth:`offer`, then :meth:`put` when full, and every take
    #: through :meth:`get`.
    fast_path: ClassVar[bool] = True

    __slots__ = (
        "_event", "_wakeup", "capacity", "closed", "fast_capacity", "getter", "interrupted", "name",
        "overflow", "putters", "queued",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        config: MailboxConfig,
        event_factory: Callable[[], anyio.Event] = anyio.Event,
    ) -> None:
        self.name = name
        self.capacity = config.capacity
        #: What the bus's inlined append compares the queue length with: ``capacity`` while
        #: open, or 0 (never room: every send goes through :meth:`offer`) when closed or not
        #: :attr:`fast_path`. A slot, because reading the class attribute or a second flag
        #: would cost every tell ~20 ns.
        self.fast_capacity = self.capacity if self.fast_path else 0
        self.overflow: Overflow = config.overflow
        #: The queue itself, and the senders waiting for room: the consumer and the bus read
        #: them directly on their hot paths (use the methods everywhere else).
        self.queued: deque[Envelope] = deque()
        self._event = event_factory
        self._wakeup: Callable[[], _Wakeup] | None = None  # resolved at the first wait
        self.getter: _Wakeup | None = None
        self.putters: deque[anyio.Event] | None = None  # made when a sender first waits
        #: Refusing new messages (:meth:`close`).
        self.closed = False
        self.interrupted = False

    def __len__(self) -> int:
        return len(self.queued)

    def wake_getter(self) -> None:
        """Wake the consumer waiting in :meth:`get`."""
        getter = self.getter
        if getter is not None:
            self.getter = None
            getter.set()

    def try_put(self, envelope: Envelope) -> bool:
        """Enqueue if open and not full (the hot path; ``Bus.post`` has it inlined); False leaves
        the decision to :meth:`offer` / :meth:`put` (always, when not :attr:`fast_path`)."""
        if len(self.queued) >= self.fast_capacity:  # 0 when closed
            return False
        self._append(envelope)
        return True

    def _append(self, envelope: Envelope) -> None:
        self.queued.append(envelope)
        if self.getter is not None:
            self.wake_getter()

    def offer(self, envelope: Envelope) -> Envelope | Literal[False] | None:
        """Enqueue without waiting.

        Returns ``None`` when queued, the envelope that was dropped under ``drop_newest`` /
        ``drop_oldest``, or ``False`` when full under ``block``. Raises :class:`MailboxFull`
        (policy ``fail``) or :class:`ActorStopped` (closed).
        """
        if self.closed:
            raise ActorStopped(self.name, "is stopping")
        if len(self.queued) < self.capacity:
            self._append(envelope)
            return None
        overflow = self.overflow
        if overflow == "block":
            return False
        if overflow == "drop_newest":
            return envelope
        if overflow == "drop_oldest":
            oldest = self.queued.popleft()
            self._append(envelope)
            return oldest
        raise MailboxFull(self.name, self.capacity)

    async def put(self, envelope: Envelope) -> Envelope | None:
        """Enqueue, waiting for room under ``block``; returns the dropped envelope, if any.

        Cancellation while waiting leaves the envelope unqueued. Raises :class:`ActorStopped`
        if the mailbox closes while waiting.
        """
        outcome = self.offer(envelope)
        while outcome is False:
            await self.wait_in_line(lambda: len(self.queued) < self.capacity)
            outcome = self.offer(envelope)
        return outcome if isinstance(outcome, Envelope) else None

    async def wait_in_line(self, has_room: Callable[[], bool]) -> None:
        """Wait, behind the senders already waiting, until the consumer makes room or the
        mailbox closes (then check again: another sender may have taken the room). Cancelled
        while waiting: leaves the line; cancelled once woken: passes the wake-up on to the next
        sender while ``has_room()``."""
        waiter = self._event()
        if self.putters is None:
            self.putters = deque()
        self.putters.append(waiter)
        try:
            await waiter.wait()
        finally:
            if not waiter.is_set():
                self.putters.remove(waiter)
            elif has_room():
                self.wake_putter()  # pass on a wake-up we may not use (cancelled)

    def put_front(self, envelope: Envelope) -> None:
        """Requeue at the head, ignoring capacity (redelivery after a crash)."""
        self.queued.appendleft(envelope)
        if self.getter is not None:
            self.wake_getter()

    def wake_putter(self) -> None:
        if self.putters:
            self.putters.popleft().set()

    def takeable(self) -> Takeable:
        """What the cell may take from without :meth:`get` while it is not empty (and the
        mailbox not :attr:`interrupted`): :attr:`queued` when :attr:`fast_path`, else an empty
        queue (every take goes through :meth:`get`). A subclass that must refuse takes at times
        returns a view that is empty then."""
        return self.queued if self.fast_path else deque()

    async def get(self) -> Envelope:
        """Dequeue the oldest envelope, waiting while empty.

        Raises :class:`MailboxClosed` once closed and empty, or when :meth:`interrupt` is called.
        """
        while not self.queued or self.interrupted:
            if self.closed or self.interrupted:
                self.interrupted = False
                raise MailboxClosed
            if self._wakeup is None:
                self._wakeup = _wakeup_factory(self._event)
            getter = self.getter = self._wakeup()
            try:
                await getter.wait()
            finally:
                if self.getter is getter:
                    self.getter = None
        envelope = self.queued.popleft()
        if self.putters:
            self.wake_putter()
        return envelope

    def interrupt(self) -> None:
        """Make the consumer's next (or current) :meth:`get` raise :class:`MailboxClosed`."""
        self.interrupted = True
        if self.getter is not None:
            self.wake_getter()

    def clear_interrupt(self) -> None:
        self.interrupted = False

    def force(self, envelope: Envelope) -> bool:
        """Append ignoring capacity (runtime notifications); False, and not queued, if closed."""
        if self.closed:
            return False
        self._append(envelope)
        return True

    def close(self) -> None:
        """Refuse new messages; wake the consumer and every waiting producer."""
        self.closed = True
        self.fast_capacity = 0
        if self.getter is not None:
            self.wake_getter()
        self._wake_all_putters()

    def _wake_all_putters(self) -> None:
        while self.putters:
            self.putters.popleft().set()

    def reopen(self) -> None:
        """Accept messages again (a stopped actor started anew under the same name)."""
        self.closed = False
        self.fast_capacity = self.capacity if self.fast_path else 0

    def settle(self, envelope: Envelope, cut_short: bool = False) -> None:
        """The consumer is done with ``envelope`` (handled, replied, failed for good or
        dead-lettered); called once per envelope taken, a redelivery not counting.
        ``cut_short``: its handling was cancelled from outside (a stop's deadline, the tree
        torn down), so it was not done. A no-op: a mailbox that persists its queue overrides
        it to forget the envelope (or, cut short, to keep it)."""

    def drain(self) -> list[Envelope]:
        """Remove and return everything queued."""
        items = list(self.queued)
        self.queued.clear()
        self._wake_all_putters()
        return items
