"""The actor cell: what persists under a name across instances (mailbox, counters, watchers).

A cell runs one instance at a time in :meth:`ActorCell.run`, which its supervisor calls in the
supervisor's task group. A crash ends ``run`` with the exception; a requested stop ends it
normally. The supervisor then either runs the cell again (a restart: same mailbox, new
instance) or finalises it (:meth:`ActorCell.finalize`), which dead-letters whatever is left.
"""

from __future__ import annotations

import inspect
import logging
import time
from bisect import bisect_left
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus

from ..errors import ActorStopped, AskCycle, SystemStopped, UnexpectedCancellation
from ._actor import Actor
from ._context import current_cell
from ._crashes import cancelled_from_outside, for_asker, is_cancellation, raise_unwrapped
from ._envelope import Envelope
from ._mailbox import Mailbox, MailboxClosed, MailboxConfig
from ._reasons import DeadLetterReason
from ._reply import ReplySlot
from ._stats import BUCKETS, ActorStats

if TYPE_CHECKING:
    from ..system import ActorSystem

log = logging.getLogger("letta_actors.actors")

ActorFactory = Callable[[], Actor]


class ActorState(StrEnum):
    """Where a cell is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # crashed; its supervisor will start a new instance
    STOPPING = "stopping"
    STOPPED = "stopped"  # for good: no instance will run again under this cell


class ActorCell:
    """Everything that lives under one actor name; see the module docstring."""

    __slots__ = (
        "_deferred",
        "_exited",
        "_failure",
        "_leaving",
        "_running",
        "_scope",
        "actor_class",
        "blocked_by",
        "cancel_abandoned_asks",
        "current",
        "factory",
        "instance",
        "mailbox",
        "max_attempts",
        "name",
        "parent",
        "restart_on_error",
        "shutdown",
        "started",
        "state",
        "stats",
        "system",
    )

    def __init__(
        self,
        system: ActorSystem,
        name: str,
        factory: ActorFactory,
        *,
        mailbox: MailboxConfig,
        shutdown: float | None = None,
        max_attempts: int = 1,
        parent: str | None = None,
    ) -> None:
        self.system = system
        self.name = name
        self.factory = factory
        self.mailbox: Mailbox = system.mailbox_factory(name, mailbox, system.event_factory)
        self.stats = ActorStats()
        self.shutdown = shutdown  # None: the instance class's default_shutdown
        self.parent = parent
        self.blocked_by: tuple[str, ...] = ()
        self.max_attempts = max_attempts
        self.state = ActorState.STARTING
        self.instance: Actor | None = None
        self.actor_class: str | None = None  # of the latest instance; kept after it ends
        self.current: Envelope | None = None
        self.started = False
        self.restart_on_error = True
        self.cancel_abandoned_asks = False
        self._scope: anyio.CancelScope | None = None
        self._exited: anyio.Event | None = None  # made only when someone waits for the exit
        self._running = False
        self._leaving = False
        self._deferred = False
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        return f"<ActorCell {self.name!r} {self.state}>"

    # -- running one instance -------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Create an instance, start it, and handle messages until asked to stop.

        Returns when a stop was requested (after draining, or when the stop deadline cancelled
        the handling) or the instance was interrupted for a sibling restart. Raises the
        exception of a crash: in the factory, ``on_start``, or ``receive`` (when
        ``restart_on_error``). ``task_status.started()`` is called once ``on_start`` returned.
        """
        self._running = True
        self._leaving = False
        self._failure = None
        self.mailbox.clear_interrupt()
        self.started = False
        self.state = ActorState.STARTING
        token = current_cell.set(self)
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                instance = self.factory()
                check_actor(instance, self.name)
                instance._cell = self
                self.instance = instance
                self.actor_class = type(instance).__name__
                budget = self.shutdown if self.shutdown is not None else instance.default_shutdown
                self.restart_on_error = instance.restart_on_error
                self.cancel_abandoned_asks = instance.cancel_abandoned_asks
                try:
                    async with instance_scope(instance):
                        try:
                            await instance.on_start()
                            self.state = ActorState.RUNNING
                            self.started = True
                            task_status.started()
                            await self._process(instance)
                        finally:
                            await self._call_on_stop(instance, budget)
                except BaseExceptionGroup as group:
                    raise_unwrapped(group)  # a supervisor's task group wraps what on_start raised
                finally:
                    self.current = None
            if self._failure is not None:
                raise self._failure  # noqa: TRY301 - the handler below lets Exceptions through
        except BaseException as exc:
            if isinstance(exc, Exception) or (is_cancellation(exc) and cancelled_from_outside()):
                raise
            if is_cancellation(exc):
                where = "on_start" if not self.started else "its lifecycle"
                raise UnexpectedCancellation(self.name, where, exc) from exc
            await self._stop_system(exc)
            raise
        finally:
            current_cell.reset(token)
            self.instance = None
            self._scope = None
            self._running = False
            if self._exited is not None:
                self._exited.set()
                self._exited = None

    async def _call_on_stop(self, instance: Actor, budget: float) -> None:
        self.state = ActorState.STOPPING
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + budget
            if self._scope is not None:  # a requested stop: its budget covers on_stop too
                scope.deadline = min(scope.deadline, self._scope.deadline)
            try:
                await instance.on_stop()
            except Exception:
                log.exception("on_stop of actor %r failed", self.name)
        if scope.cancelled_caught:
            log.warning("on_stop of actor %r exceeded %.3g s", self.name, budget)

    async def _process(self, instance: Actor) -> None:
        mailbox = self.mailbox
        stats = self.stats
        receive = instance.receive
        clock = time.time
        waiting, handling = stats.waiting, stats.handling
        waiting_counts, handling_counts = waiting.counts, handling.counts
        # In-process waits and handling times mostly fall under 0.5 ms: the first four buckets
        # are compared in line, and bisect_left (~0.07 us a call, two per message) only past them.
        buckets = BUCKETS
        b0, b1, b2, b3 = buckets[:4]
        # The clock read at the end of the previous handling: the start of the next one when
        # the next message was already queued (nothing ran in between). None after a wait.
        finished: float | None = None
        # The inline take: the mailbox's queue, or a view of it that is empty while the
        # mailbox refuses takes (e.g. a cluster node that lost its lease), or an empty queue
        # when every take must go through get() (not fast_path).
        queued = mailbox.takeable()
        system = self.system
        # Mailbox.settle is a no-op unless overridden: skip the call on the hot path then.
        settle = mailbox.settle if type(mailbox).settle is not Mailbox.settle else None
        while not self._leaving:
            if queued and not mailbox.interrupted:  # what Mailbox.get does without waiting
                envelope = queued.popleft()
                if mailbox.putters:
                    mailbox.wake_putter()
            else:
                finished = None
                try:
                    envelope = await mailbox.get()
                except MailboxClosed:
                    return
            reply = envelope.reply_to
            if reply is not None and reply.abandoned:
                stats.expired += 1
                if settle is not None:
                    settle(envelope)
                continue
            self.current = envelope
            if reply is not None:
                self._deferred = False
            started = clock() if finished is None else finished
            finished = None
            waited = started - envelope.sent_at
            if waited < 0.0:
                waited = 0.0  # the wall clock stepped back
            waiting_counts[
                0 if waited <= b0 else 1 if waited <= b1 else 2 if waited <= b2
                else 3 if waited <= b3 else bisect_left(buckets, waited)
            ] += 1  # fmt: skip
            waiting.sum += waited
            tracer = system.tracer
            handle = receive if tracer is None else tracer.handler(self, envelope, receive)
            try:
                if reply is not None and self.cancel_abandoned_asks:
                    with anyio.CancelScope() as reply.scope:
                        result = await handle(envelope.payload)
                    if reply.scope.cancelled_caught:
                        stats.cancelled += 1
                        if settle is not None:
                            settle(envelope)
                        continue
                else:
                    result = await handle(envelope.payload)
            except Exception as exc:
                handling.observe(clock() - started)
                stats.failed += 1
                self._handler_failed(envelope, exc)
                if self.restart_on_error:
                    raise
                continue
            except BaseException as exc:
                if is_cancellation(exc) and cancelled_from_outside():
                    # The stop deadline passed, or the whole tree is being torn down.
                    stats.cancelled += 1
                    self.unprocessed(envelope, DeadLetterReason.CANCELLED)
                    raise
                handling.observe(clock() - started)
                stats.failed += 1
                if not is_cancellation(exc):  # KeyboardInterrupt, SystemExit...: fatal
                    self._handler_failed(envelope, self._system_stopped(exc))
                    raise
                crash = UnexpectedCancellation(self.name, "receive", exc)
                self._handler_failed(envelope, crash)
                if self.restart_on_error:
                    raise crash from exc
                continue
            finally:
                self.current = None
            finished = clock()
            elapsed = finished - started
            if elapsed < 0.0:
                elapsed = 0.0
            handling_counts[
                0 if elapsed <= b0 else 1 if elapsed <= b1 else 2 if elapsed <= b2
                else 3 if elapsed <= b3 else bisect_left(buckets, elapsed)
            ] += 1  # fmt: skip
            handling.sum += elapsed
            stats.processed += 1
            if reply is not None and not self._deferred:
                reply.set_result(result)
            if settle is not None:
                settle(envelope)

    def _system_stopped(self, cause: BaseException) -> SystemStopped:
        error = SystemStopped(
            f"actor system {self.system.name!r} stopped: actor {self.name!r} raised "
            f"{type(cause).__name__}"
        )
        error.__cause__ = cause
        return error

    async def _stop_system(self, cause: BaseException) -> None:
        """``cause`` (not an ``Exception``) escaped this actor: it stops the whole system.

        It is not raised in this task (asyncio would let a ``KeyboardInterrupt`` escape the event
        loop): the system records it, cancels everything, and raises it when its block is left.
        """
        self.system.registry.fail(cause, f"actor {self.name!r} raised {type(cause).__name__}")
        await anyio.lowlevel.checkpoint()  # the cancellation of the system's task group
        raise self._system_stopped(cause)  # only when shielded from that cancellation

    def _handler_failed(self, envelope: Envelope, exc: Exception) -> None:
        """Fail the ask, redeliver the tell (attempts left), or dead-letter it; settle it unless
        redelivered."""
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        reply = envelope.reply_to
        if reply is not None:
            reply.set_error(for_asker(exc, self.name))
        elif envelope.attempt < self.max_attempts:
            envelope.attempt += 1
            self.mailbox.put_front(envelope)
            return
        else:
            self.system.dead_letters.record(envelope, DeadLetterReason.HANDLER_FAILED, exc)
        self.mailbox.settle(envelope)

    def unprocessed(self, envelope: Envelope, reason: DeadLetterReason) -> None:
        """Account for a message this actor will never handle: fail its ask, or dead-letter it
        (and settle it)."""
        reply = envelope.reply_to
        if reply is not None:
            reply.set_error(ActorStopped(self.name, "stopped before replying"))
        self.system.dead_letters.record(envelope, reason)
        self.mailbox.settle(envelope, reason is DeadLetterReason.CANCELLED)

    def defer_reply(self) -> ReplySlot:
        current = self.current
        if current is None or current.reply_to is None:
            raise RuntimeError(f"{self.name}: the current message is not an ask")
        self._deferred = True
        return current.reply_to

    # -- stopping -------------------------------------------------------------------------

    def request_stop(self, *, drain: bool, timeout: float | None = None) -> None:
        """Ask the running instance to end.

        ``drain=True`` (stop): refuse new messages, handle what is queued, then return from
        :meth:`run`. ``drain=False`` (interrupt, for a sibling restart): finish the current
        message only; the mailbox stays open for the next instance. In both cases handling is
        cancelled once ``timeout`` (default: the shutdown budget) has passed, and ``on_stop``
        gets only what is left of it.
        """
        if drain:
            self.mailbox.close()
        else:
            self._leaving = True
            self.mailbox.interrupt()
        scope = self._scope
        instance = self.instance
        if scope is None or instance is None:
            return
        if timeout is None:
            timeout = self.shutdown if self.shutdown is not None else instance.default_shutdown
        scope.deadline = min(scope.deadline, anyio.current_time() + timeout)

    def fail(self, error: BaseException) -> None:
        """End the running instance as a crash with ``error`` once the current message is done."""
        self._failure = error
        self.request_stop(drain=False)

    async def wait_exited(self) -> None:
        """Wait until the instance's :meth:`run` has returned (at once if none runs)."""
        if self._running:
            if self._exited is None:
                self._exited = self.system.event_factory()
            await self._exited.wait()

    @property
    def running(self) -> bool:
        return self._running

    # -- what other layers read -----------------------------------------------------------

    @property
    def is_supervisor(self) -> bool | None:
        """Whether the running instance supervises children (its class's
        :attr:`Actor.is_supervisor`); ``None`` while no instance runs."""
        instance = self.instance
        return None if instance is None else instance.is_supervisor

    def ask_chain(self, to: str) -> tuple[str, ...]:
        """The chain of an ask this cell's actor sends to ``to`` now: who will be blocked
        waiting (the askers of the message it handles; between messages, :attr:`blocked_by`),
        then itself. Raises :class:`~letta_actors.AskCycle` when ``to`` is in it (a deadlock)."""
        current = self.current
        if current is None:
            waiting = self.blocked_by  # e.g. its supervisor, during on_start
        else:
            waiting = current.chain if current.reply_to is not None else ()
        chain = (*waiting, self.name)
        if to in chain:
            raise AskCycle(to, chain)
        return chain

    def finalize(self) -> None:
        """Stop for good: refuse new messages and dead-letter what is still queued."""
        self.state = ActorState.STOPPED
        self.mailbox.close()
        for envelope in self.mailbox.drain():
            self.unprocessed(envelope, DeadLetterReason.NOT_PROCESSED)

    def reopen(self) -> None:
        """Make a stopped cell usable again (the same name started anew).

        A cell that had stopped for good starts with fresh counters: its old ones were final
        (observers may have folded them into totals).
        """
        self.mailbox.reopen()
        if self.state is ActorState.STOPPED:
            self.stats = ActorStats()
        self.state = ActorState.STARTING


def check_actor(instance: object, name: str) -> None:
    """``TypeError`` unless ``instance`` is an :class:`Actor` with an ``async def receive``."""
    if not isinstance(instance, Actor):
        raise TypeError(f"factory of {name!r} returned {type(instance).__name__}, not an Actor")
    cls = type(instance)
    if cls.receive is Actor.receive:
        raise TypeError(
            f"{cls.__name__} (actor {name!r}) does not define receive(): "
            "write `async def receive(self, message)`"
        )
    if not inspect.iscoroutinefunction(instance.receive):
        raise TypeError(
            f"{cls.__name__}.receive (actor {name!r}) must be a coroutine function: "
            "write `async def receive(self, message)`"
        )


class _NoScope:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_SCOPE = _NoScope()


def instance_scope(instance: Actor) -> Any:
    """The async context an instance runs in: supervisors open their children's task group."""
    hook = getattr(instance, "_instance_scope", None)
    return hook() if hook is not None else _NO_SCOPE
