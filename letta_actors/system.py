"""The actor system: the facade over a registry of named actors, their bus and a root supervisor.

It owns the lifecycle (entering starts the root supervisor, leaving stops everything) and
spawning; names are kept by :class:`~letta_actors.actors.ActorRegistry` (``system.registry``),
which supervisors, the bus and observers use directly.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .actors import (
    Actor,
    ActorCell,
    ActorInfo,
    ActorRef,
    ActorRegistry,
    Mailbox,
    MailboxConfig,
    Tracer,
    cancelled_from_outside,
    current_cell,
    is_cancellation,
    seconds,
)
from .bus import Bus, DeadLetters
from .errors import ActorNotFound, SystemStopped
from .supervisors import (
    Backoff,
    ChildSpec,
    Intensity,
    RestartType,
    Strategy,
    Supervisor,
    SupervisorHandle,
    TerminateChild,
)

log = logging.getLogger("letta_actors.system")

ROOT = "root"

MailboxFactory = Callable[[str, MailboxConfig, Callable[[], anyio.Event]], Mailbox]

Msg = TypeVar("Msg")
Reply = TypeVar("Reply")


def _backend_event_factory() -> Callable[[], anyio.Event]:
    """The running backend's event class: makes events without anyio's per-call dispatch."""
    backend_class = type(anyio.Event())
    try:
        probe = backend_class()
    except TypeError:
        return anyio.Event
    return backend_class if isinstance(probe, anyio.Event) else anyio.Event


class ActorSystem:
    """Runs actors; use as ``async with ActorSystem() as system:``.

    Entering starts the root supervisor; leaving the block stops every actor in reverse start
    order, each draining its mailbox within its shutdown budget (and the whole stop within
    ``shutdown_timeout``), then cancels what is left; whatever could not be handled goes to
    dead letters.

    Whatever stops the system otherwise (the root supervisor giving up, which raises
    :class:`~letta_actors.SupervisionEscalated`; an exception escaping the root; a
    ``KeyboardInterrupt``, ``SystemExit`` or other non-``Exception`` raised by an actor), it
    stops at once: :attr:`running` turns ``False``, refs and the bus raise
    :class:`~letta_actors.SystemStopped`, :attr:`failure` holds the cause and
    :meth:`wait_stopped` returns it; the block is cancelled, and leaving it raises the cause as
    itself (never wrapped in an exception group).

    Nothing is global: each system has its own registry, bus, dead letters and counters.

    Settings: ``enforce_links`` (see :class:`~letta_actors.bus.Bus`); ``ask_timeout``, the
    default for asks (seconds); ``mailbox``, the default mailbox of spawned actors;
    ``dead_letter_capacity``; ``shutdown_timeout``; and the root supervisor's ``strategy``,
    ``intensity`` and ``backoff``. Invalid settings raise ``TypeError`` / ``ValueError`` here,
    not when the block is entered.
    """

    def __init__(
        self,
        *,
        name: str = "letta-actors",
        enforce_links: bool = False,
        ask_timeout: float = 60.0,
        mailbox: MailboxConfig | None = None,
        dead_letter_capacity: int = 1000,
        shutdown_timeout: float = 60.0,
        strategy: Strategy = "one_for_one",
        intensity: Intensity | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        self.ask_timeout = seconds(ask_timeout, "ask_timeout")
        self.shutdown_timeout = seconds(shutdown_timeout, "shutdown_timeout")
        if mailbox is not None and not isinstance(mailbox, MailboxConfig):
            raise TypeError(f"mailbox must be a MailboxConfig, got {mailbox!r}")
        if isinstance(dead_letter_capacity, bool) or not isinstance(dead_letter_capacity, int):
            raise TypeError(f"dead_letter_capacity must be an int, got {dead_letter_capacity!r}")
        if not isinstance(enforce_links, bool):
            raise TypeError(f"enforce_links must be a bool, got {enforce_links!r}")
        if intensity is not None and not isinstance(intensity, Intensity):
            raise TypeError(f"intensity must be an Intensity, got {intensity!r}")
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a Backoff, got {backoff!r}")
        self.default_mailbox = mailbox or MailboxConfig()
        #: The names of this system's actors and their cells (runtime internals: supervisors,
        #: the bus and observers use it; applications use refs and :meth:`info`).
        self.registry = ActorRegistry(guard=self._require_running, fail=self._fail)
        self.bus = Bus(self, enforce_links=enforce_links, dead_letter_capacity=dead_letter_capacity)

        def root_factory() -> Supervisor:
            return Supervisor(strategy=strategy, intensity=intensity, backoff=backoff)

        root_factory()  # invalid root settings raise here, not when the block is entered
        self._root_factory = root_factory
        self._root: ActorCell | None = None
        self._tg: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None
        self._failure: BaseException | None = None
        self._stopping = False
        self._stopped: anyio.Event | None = None  # made when someone waits for the stop
        self._names = itertools.count(1)
        self.running = False
        #: Makes the runtime's events; set to the running backend's own class on entry.
        self.event_factory: Callable[[], anyio.Event] = anyio.Event
        #: The tracing hook (``letta_actors.tracing`` installs one); ``None``: no tracing.
        self.tracer: Tracer | None = None
        #: Makes each actor's mailbox from its name, config and event factory; replaced before
        #: the block is entered to give some actors another kind (``letta_actors.durable``).
        self.mailbox_factory: MailboxFactory = Mailbox

    @property
    def retire_listeners(self) -> list[Callable[[ActorInfo], None]]:
        """Called with the final :class:`ActorInfo` of each actor that stops for good (before
        it is unregistered), in the event loop. Observers (metrics) use it to keep totals.
        (The registry's list: ``registry.retire_listeners``.)"""
        return self.registry.retire_listeners

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("an ActorSystem can be entered only once")
        self.event_factory = _backend_event_factory()
        self.bus.bind_backend()
        self._stack = AsyncExitStack()
        self._tg = await self._stack.enter_async_context(anyio.create_task_group())
        self.running = True
        root = ActorCell(self, ROOT, self._root_factory, mailbox=MailboxConfig(capacity=1_000_000))
        self._root = root
        self.registry.register(root)
        try:
            await self._tg.start(self._run_root, root)
        except BaseException as exc:
            self.running = False
            await self._stack.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def _run_root(self, root: ActorCell, *, task_status: TaskStatus[None]) -> None:
        try:
            await root.run(task_status=task_status)
        except BaseException as exc:
            if not root.started:
                raise
            if self._failure is not None or (is_cancellation(exc) and cancelled_from_outside()):
                raise  # torn down: by the block's exit, a cancellation around it, or a failure
            # Not re-raised: the failure is the system's, raised when its block is left.
            self._fail(exc, "the root supervisor failed")
        else:
            if not self._stopping:
                self._fail(SystemStopped("the root supervisor stopped"), "the root stopped")
        finally:
            self.registry.retire(root, "shutdown")

    def _fail(self, error: BaseException, what: str) -> None:
        """Stop the system because of ``error``: refuse work, cancel every actor and the block.

        The first failure is kept (:attr:`failure`) and raised when the block is left.
        """
        if self._failure is None:
            self._failure = error
            log.critical("%s; stopping actor system %r", what, self.name, exc_info=error)
        self._mark_stopped()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    def _mark_stopped(self) -> None:
        self.running = False
        if self._stopped is not None:
            self._stopped.set()

    @property
    def failure(self) -> BaseException | None:
        """What stopped the system, if something did (``None`` while running or after a clean
        stop): a :class:`~letta_actors.SupervisionEscalated` from the root, an exception that
        escaped it, or the ``KeyboardInterrupt`` / ``SystemExit`` an actor raised. The same
        exception is raised when the ``async with`` block is left."""
        return self._failure

    async def wait_stopped(self) -> BaseException | None:
        """Wait until the system has stopped; return :attr:`failure` (``None`` for a clean stop).

        Returns at once when it is not running. A failure ends the wait as it happens (the
        block is being cancelled at the same time); a clean stop, once the block's exit has
        stopped every actor. Await it from a task outside the block (a sibling in your own task
        group, a health check) to react, e.g. exit non-zero so a service manager restarts you.
        """
        if self.running:
            if self._stopped is None:
                self._stopped = self.event_factory()
            await self._stopped.wait()
        return self._failure

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._stack is None or self._tg is None or self._root is None:
            raise RuntimeError("ActorSystem.__aexit__ without __aenter__")
        cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
        self._stopping = True
        try:
            if self._failure is None and not cancelled:
                with anyio.move_on_after(self.shutdown_timeout):
                    self._root.request_stop(drain=True)
                    await self._root.wait_exited()
            self._tg.cancel_scope.cancel()  # whatever is still running after the deadline
        finally:
            # The task group absorbs a cancellation it caused; any other exception of the
            # block propagates as itself (not wrapped in an exception group).
            try:
                if cancelled:
                    suppress = await self._stack.__aexit__(exc_type, exc, tb)
                else:
                    suppress = await self._stack.__aexit__(None, None, None)
            finally:
                self._mark_stopped()
        failure = self._failure
        if failure is not None:
            failure.__suppress_context__ = True  # not "during handling of CancelledError"
            raise failure
        return suppress if cancelled else None

    # -- spawning and finding actors ------------------------------------------------------

    def _require_running(self) -> None:
        if not self.running:
            raise SystemStopped(f"actor system {self.name!r} is not running")

    async def spawn(
        self,
        factory: Callable[[], Actor[Msg, Reply]],
        *,
        name: str | None = None,
        mailbox: MailboxConfig | None = None,
        restart: RestartType = "permanent",
        shutdown: float | None = None,
        max_attempts: int = 1,
        supervisor: str | ActorRef | None = None,
    ) -> ActorRef[Msg, Reply]:
        """Start an actor under ``supervisor`` (default: the root) and return its ref.

        ``factory`` is an :class:`Actor` subclass or a zero-argument callable returning one; it
        is called again for every restart; its actor must define ``async def receive``. The ref
        is typed after the actor: spawning an ``Actor[Msg, Reply]`` gives an
        ``ActorRef[Msg, Reply]``. Returns once the actor's ``on_start`` has returned; raises
        what ``on_start`` raised (also when a supervisor's child failed to start),
        :class:`NameTaken`, ``TypeError`` for a factory that makes no actor with an
        ``async def receive`` or a ``supervisor`` that is not one, :class:`ActorNotFound` for a
        missing supervisor, ``pydantic.ValidationError`` for invalid settings, or
        :class:`SystemStopped`.
        """
        self._require_running()
        parent = self._supervisor_cell(supervisor or ROOT)
        if name is None:
            base = getattr(factory, "__name__", "actor").lower()
            name = f"{base}-{next(self._names)}"
        spec = ChildSpec(
            factory=factory,
            name=name,
            restart=restart,
            shutdown=shutdown,
            mailbox=mailbox or self.default_mailbox,
            max_attempts=max_attempts,
        )
        return await self.supervisor(parent.name).start_child(spec)

    def _supervisor_cell(self, supervisor: str | ActorRef) -> ActorCell:
        """The cell of a running supervisor; ``TypeError`` if that actor is no supervisor."""
        name = self.bus.name_of(supervisor)
        cell = self.registry.get(name)
        if cell is None:
            raise ActorNotFound(name)
        if cell.is_supervisor is False:
            raise TypeError(
                f"actor {name!r} is a {cell.actor_class}, not a Supervisor: "
                "it cannot start children"
            )
        return cell

    def supervisor(self, name: str | ActorRef = ROOT) -> SupervisorHandle:
        """Dynamic-children calls on a supervisor (the root by default)."""
        return SupervisorHandle(self.ref(self.bus.name_of(name)))

    def ref(self, name: str) -> ActorRef[Any, Any]:
        """A ref to ``name``, whether or not an actor holds that name now (untyped: annotate
        the variable, e.g. ``ref: ActorRef[str, int] = system.ref("x")``, to type it)."""
        return ActorRef(self, name, self.registry.get(name))

    def lookup(self, name: str) -> ActorRef[Any, Any]:
        """A ref to a running actor; raises :class:`ActorNotFound` if none has that name."""
        cell = self.registry.get(name)
        if cell is None:
            raise ActorNotFound(name)
        return ActorRef(self, name, cell)

    def cell(self, name: str) -> ActorCell | None:
        """The cell registered under ``name``: runtime internals, for tests and the runtime's
        own layers (``registry.get``). Read an actor through :meth:`info`; talk to it by ref."""
        return self.registry.get(name)

    def info(self, name: str) -> ActorInfo | None:
        """A snapshot of the actor ``name`` (``None`` when no actor holds that name)."""
        return self.registry.info(name)

    def actors(self) -> list[ActorInfo]:
        """Every registered actor (supervisors included), in registration order."""
        return self.registry.infos()

    async def stop(self, name: str, *, timeout: float | None = None) -> None:
        """Stop the actor ``name`` for good (see :meth:`ActorRef.stop`)."""
        cell = self.registry.get(name)
        if cell is None or cell.parent is None:
            return
        supervisor = self.supervisor(cell.parent)
        if cell.parent not in self.registry:
            return
        if current_cell.get() is cell:
            # Stopping itself: the supervisor would wait for the caller, which waits for it.
            await supervisor.ref.tell(TerminateChild(name, timeout, delete=True))
            return
        await supervisor.stop_child(name, timeout=timeout)

    @property
    def dead_letters(self) -> DeadLetters:
        """The bounded dead-letter log (also published on ``system.dead_letters``)."""
        return self.bus.dead_letters

    # -- monitors -------------------------------------------------------------------------

    def watch(self, watcher: str | ActorRef, watched: str | ActorRef) -> None:
        """Send :class:`Terminated` to ``watcher`` when ``watched`` stops for good (once).

        Watching a name that no actor holds delivers ``Terminated(name, "noproc")`` at once.
        Raises :class:`ActorNotFound` when no actor holds the watcher's name.
        """
        self.registry.watch(self.bus.name_of(watcher), self.bus.name_of(watched))

    def unwatch(self, watcher: str | ActorRef, watched: str | ActorRef) -> None:
        """Forget a watch (forgetting one that does not exist is not an error)."""
        self.registry.unwatch(self.bus.name_of(watcher), self.bus.name_of(watched))
