"""The supervisor actor: starts children, watches them exit, restarts them by its rules."""

from __future__ import annotations

import dataclasses
import logging
import math
import random
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import anyio
from anyio.abc import TaskGroup, TaskStatus

from ..actors import Actor, ActorCell, ActorState
from ..errors import ActorNotFound, NameTaken, SupervisionEscalated
from ._backoff import Backoff
from ._errors import ChildAlreadyPresent
from ._intensity import Intensity, RestartWindow
from ._messages import (
    ChildExit,
    ChildInfo,
    DeleteChild,
    RestartChild,
    RestartDue,
    StartChild,
    TerminateChild,
    WhichChildren,
)
from ._spec import ChildSpec, RestartType, Strategy, check_children

log = logging.getLogger("letta_actors.supervisors")


@dataclasses.dataclass(eq=False, slots=True)
class _Child:
    # The spec's factory and restart type; its other settings live in the cell. (Keeping the
    # pydantic spec itself would cost ~1 KB per child.)
    name: str
    restart: RestartType
    cell: ActorCell
    restarts: int = 0
    consecutive: int = 0  # restarts in a row, for the backoff
    started_at: float = 0.0
    generation: int = 0  # which instance; exits of older instances are ignored
    expected_exit: bool = False  # the supervisor itself stopped it


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Supervisor(Actor):
    """Supervises children by Erlang/OTP's rules (see ``docs/supervision.md``).

    Children start in the given order (each after the previous one's ``on_start`` returned) and
    stop in reverse order. When a child exits, its restart type decides whether it is restarted;
    the strategy decides which siblings are restarted with it; the intensity bounds how many
    restarts may happen in a period (beyond it the supervisor stops every child and fails,
    escalating to its parent); the backoff paces restarts of a child that keeps failing.

    A supervisor handles :class:`StartChild`, :class:`TerminateChild`, :class:`RestartChild`,
    :class:`DeleteChild` and :class:`WhichChildren` (use :class:`SupervisorHandle`). Its own
    errors (a bad request) go to the asker; they do not restart it.
    """

    restart_on_error = False
    default_shutdown: ClassVar[float] = math.inf
    is_supervisor: ClassVar[bool] = True

    def __init__(
        self,
        children: Iterable[ChildSpec] = (),
        *,
        strategy: Strategy = "one_for_one",
        intensity: Intensity | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.strategy: Strategy = strategy
        self.intensity = intensity or Intensity()
        self.backoff = backoff or Backoff()
        self._specs = check_children(children, strategy)
        self._children: dict[str, _Child] = {}
        self._window = RestartWindow(self.intensity)
        self._rng = random.Random()
        self._tg: TaskGroup | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @asynccontextmanager
    async def _instance_scope(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            yield
            # on_stop has stopped every child: what is left are backoff timers.
            tg.cancel_scope.cancel()

    async def on_start(self) -> None:
        try:
            for spec in self._specs:
                await self._add(spec)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._stop_all()
            raise

    async def on_stop(self) -> None:
        await self._stop_all()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ChildExit):
            await self._on_exit(message)
        elif isinstance(message, RestartDue):
            await self._start_in_order(message.names)
        elif isinstance(message, StartChild):
            return await self._add(message.spec)
        elif isinstance(message, TerminateChild):
            await self._terminate(self._child(message.name), message.timeout, message.delete)
        elif isinstance(message, RestartChild):
            await self._manual_restart(self._child(message.name))
        elif isinstance(message, DeleteChild):
            self._delete(self._child(message.name))
        elif isinstance(message, WhichChildren):
            return self.children()
        else:
            raise TypeError(f"supervisor {self.name!r} does not understand {message!r}")
        return None

    def children(self) -> list[ChildInfo]:
        """The children in start order, with state and restart counts."""
        return [
            ChildInfo(
                name=child.name,
                state=child.cell.state,
                restart=child.restart,
                restarts=child.restarts,
                supervisor=child.cell.is_supervisor is True,
                last_error=child.cell.stats.last_error,
            )
            for child in self._children.values()
        ]

    # -- starting -------------------------------------------------------------------------

    def _child(self, name: str) -> _Child:
        child = self._children.get(name)
        if child is None:
            raise ActorNotFound(name)
        return child

    async def _add(self, spec: ChildSpec) -> Any:
        """Register and start a new child; on failure nothing of it is kept.

        A name it already has is refused: :class:`NameTaken` while that child runs,
        :class:`ChildAlreadyPresent` (its spec and position kept) when it does not.
        """
        existing = self._children.get(spec.name)
        if existing is not None:
            state = existing.cell.state
            if state in (ActorState.STOPPED, ActorState.RESTARTING):
                raise ChildAlreadyPresent(spec.name, state.value)
            raise NameTaken(spec.name)
        cell = ActorCell(
            self.system,
            spec.name,
            spec.factory,
            mailbox=spec.mailbox,
            shutdown=spec.shutdown,
            max_attempts=spec.max_attempts,
            parent=self.name,
        )
        child = _Child(spec.name, spec.restart, cell)
        registry = self.system.registry
        registry.register(cell)
        self._children[spec.name] = child
        try:
            await self._launch(child)
        except BaseException:
            del self._children[spec.name]
            cell.state = ActorState.STOPPED
            registry.unregister(cell)
            raise
        return self.system.ref(spec.name)

    async def _launch(self, child: _Child) -> None:
        """Run a new instance of ``child``; returns once its ``on_start`` has returned."""
        assert self._tg is not None, "supervisor is not running"
        cell = child.cell
        registry = self.system.registry
        if registry.get(cell.name) is not cell:
            registry.register(cell)  # terminated earlier, started again
        if cell.mailbox.closed:
            cell.reopen()  # it stopped itself, or was terminated
        child.generation += 1
        child.expected_exit = False
        current = self.envelope
        waiting = current.chain if current is not None and current.reply_to else ()
        cell.blocked_by = (*waiting, self.name)  # an ask from on_start to us would deadlock
        await self._tg.start(self._run_child, child, child.generation)
        cell.blocked_by = ()
        child.started_at = anyio.current_time()

    async def _run_child(
        self, child: _Child, generation: int, *, task_status: TaskStatus[None]
    ) -> None:
        cell = child.cell
        error: BaseException | None = None
        try:
            await cell.run(task_status=task_status)
        except Exception as exc:
            if not cell.started:
                raise  # a failed start is reported to whoever started it
            error = exc
        except BaseException:
            # Cancelled from above: the tree is being torn down, nothing will restart it.
            if cell.started:
                self.system.registry.retire(cell, "shutdown")
            raise
        self.system.registry.post(self._cell, ChildExit(cell.name, cell, generation, error))

    # -- exits and restarts ---------------------------------------------------------------

    async def _on_exit(self, exit: ChildExit) -> None:
        child = self._children.get(exit.name)
        if (
            child is None
            or child.cell is not exit.cell
            or child.generation != exit.generation
            or child.expected_exit
        ):
            return  # an exit it caused, or of an instance it no longer runs
        error = exit.error
        if error is not None:
            child.cell.stats.last_error = _describe(error)
            log.error("actor %r crashed (supervisor %r)", exit.name, self.name, exc_info=error)
        restart = child.restart
        if restart == "temporary" or (restart == "transient" and error is None):
            self._retire(child, "normal" if error is None else "error", error)
            return
        if not self._window.allow(anyio.current_time()):
            await self._give_up(child, error)
            return
        await self._restart(child)

    def _affected(self, failed: _Child) -> list[_Child]:
        children = list(self._children.values())
        if self.strategy == "one_for_all":
            return children
        if self.strategy == "rest_for_one":
            return children[children.index(failed) :]
        return [failed]

    async def _restart(self, failed: _Child) -> None:
        """Restart ``failed`` and, by the strategy, its siblings (stopped in reverse order)."""
        affected = self._affected(failed)
        for sibling in reversed(affected):
            if sibling is not failed:
                await self._interrupt(sibling)
        names: list[str] = []
        for child in affected:
            if child is not failed and child.restart == "temporary":
                self._retire(child, "shutdown")
                continue
            child.cell.state = ActorState.RESTARTING
            child.restarts += 1
            child.cell.stats.restarts += 1
            names.append(child.name)
        now = anyio.current_time()
        if now - failed.started_at >= self.backoff.reset_after:
            failed.consecutive = 0
        delay = self.backoff.delay(failed.consecutive, self._rng)
        failed.consecutive += 1
        if (tracer := self.system.tracer) is not None:
            tracer.restart(self.name, failed.name, names, strategy=self.strategy, delay=delay,
                           error=failed.cell.stats.last_error)  # fmt: skip
        log.warning(
            "supervisor %r restarting %s in %.3g s (%s)",
            self.name, ", ".join(repr(n) for n in names), delay, self.strategy,
        )  # fmt: skip
        if delay <= 0:
            await self._start_in_order(tuple(names))
        else:
            assert self._tg is not None
            self._tg.start_soon(self._restart_later, tuple(names), delay)

    async def _restart_later(self, names: tuple[str, ...], delay: float) -> None:
        await anyio.sleep(delay)
        self.system.registry.post(self._cell, RestartDue(names))

    async def _start_in_order(self, names: tuple[str, ...]) -> None:
        """Start the named children still waiting for a restart; a failed start is a crash."""
        for name in names:
            child = self._children.get(name)
            if child is None or child.cell.state is not ActorState.RESTARTING:
                continue
            try:
                await self._launch(child)
            except Exception as exc:
                child.cell.state = ActorState.RESTARTING
                exit = ChildExit(name, child.cell, child.generation, exc)
                self.system.registry.post(self._cell, exit)
                return

    async def _interrupt(self, child: _Child) -> None:
        """Stop a running child for a restart: it finishes its current message only."""
        cell = child.cell
        if cell.running:
            child.expected_exit = True
            cell.request_stop(drain=False)
            await cell.wait_exited()

    async def _give_up(self, child: _Child, error: BaseException | None) -> None:
        self._cell.stats.escalations += 1
        log.error(
            "supervisor %r: more than %d restarts in %g s (last: %r); stopping its children "
            "and escalating",
            self.name, self.intensity.max_restarts, self.intensity.period, child.name,
        )  # fmt: skip
        failure = SupervisionEscalated(self.name, child.name, error)
        failure.__cause__ = error
        # The child that exhausted the intensity ended by its own exit, not by this stop: its
        # watchers get that exit.
        self._retire(child, "normal" if error is None else "error", error)
        await self._stop_all()
        self._cell.fail(failure)

    # -- stopping -------------------------------------------------------------------------

    async def _stop(self, child: _Child, timeout: float | None) -> None:
        """Stop a child gracefully: it drains its mailbox within ``timeout``."""
        cell = child.cell
        child.expected_exit = True
        if cell.running:
            cell.request_stop(drain=True, timeout=timeout)
            await cell.wait_exited()

    def _retire(self, child: _Child, reason: str, error: BaseException | None = None) -> None:
        self.system.registry.retire(child.cell, reason, error)
        if child.restart == "temporary":
            self._children.pop(child.name, None)

    async def _stop_all(self) -> None:
        for child in reversed(list(self._children.values())):
            await self._stop(child, None)
            self._retire(child, "shutdown")
        self._children.clear()

    async def _terminate(self, child: _Child, timeout: float | None, delete: bool) -> None:
        await self._stop(child, timeout)
        self._retire(child, "shutdown")
        if delete:
            self._children.pop(child.name, None)

    def _delete(self, child: _Child) -> None:
        if child.cell.state is not ActorState.STOPPED:
            raise ValueError(f"child {child.name!r} is running: terminate it first")
        del self._children[child.name]

    async def _manual_restart(self, child: _Child) -> None:
        if child.cell.state is not ActorState.STOPPED:
            await self._interrupt(child)
            child.restarts += 1
            child.cell.stats.restarts += 1
            child.cell.state = ActorState.RESTARTING
        try:
            await self._launch(child)
        except Exception:
            self._retire(child, "error")
            raise
