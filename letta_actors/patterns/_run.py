"""A pattern run: its deadline, its cancellation from outside, and the record it builds."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from . import _tracing
from ._record import EventKind, RunEvent, RunRecord, RunStatus, Usage, summarize

if TYPE_CHECKING:
    from ..actors import ActorRef
    from ..system import ActorSystem


class RunControl:
    """Lets the caller cancel a run from outside, and see whether it is still going.

    Pass one to a pattern's ``run(...)``; :meth:`cancel` (from any task) stops the run, which
    still *returns* its record, marked ``cancelled``, with whatever it had finished. In-flight
    asks are abandoned, which cancels the Letta requests behind them.
    """

    def __init__(self) -> None:
        self._scope: anyio.CancelScope | None = None
        self._cancelled = False
        #: The run's record as it grows (set when the run starts; the same object the run
        #: returns), for observers such as the daemon's console. ``None`` before the start.
        self.record: RunRecord | None = None

    def cancel(self) -> None:
        self._cancelled = True
        if self._scope is not None:
            self._scope.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled


class Run:
    """The context of one pattern run: records events and usage, knows the deadline.

    Patterns call :meth:`ask` to talk to agents (it records the request, the reply or the
    error, the latency and the tokens) and :meth:`event` for anything else.
    """

    def __init__(self, system: ActorSystem, record: RunRecord) -> None:
        self.system = system
        self.record = record
        self._t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._t0

    def event(
        self,
        kind: EventKind,
        source: str,
        target: str | None = None,
        summary: Any = "",
        *,
        latency: float | None = None,
        usage: Usage | None = None,
    ) -> RunEvent:
        event = RunEvent(
            seq=len(self.record.events),
            at=round(self.now(), 6),
            kind=kind,
            source=source,
            target=target,
            summary=summarize(summary) if summary != "" else "",
            latency=latency,
            usage=usage,
        )
        self.record.events.append(event)
        _tracing.event(self.system, self.record, event)
        return event

    def charge(self, agent: str, usage: Usage) -> None:
        self.record.usage.setdefault(agent, Usage()).add(usage)

    async def ask(
        self,
        target: str | ActorRef,
        message: Any,
        *,
        source: str = "run",
        timeout: float | None = None,
    ) -> Any:
        """Ask ``target`` on behalf of ``source``, recording request, outcome and usage.

        Errors (including :class:`~letta_actors.AskTimeout`) are recorded and re-raised;
        cancellation is recorded as ``cancelled`` and propagates.
        """
        name = target if isinstance(target, str) else target.name
        self.event("request", source, name, message)
        started = time.monotonic()
        try:
            with _tracing.step(self.system, self.record, None, source, name):
                reply = await self.system.bus.ask(name, message, timeout=timeout)
        except TimeoutError as exc:
            self.event("timeout", name, source, exc, latency=time.monotonic() - started)
            raise
        except Exception as exc:
            self.event("error", name, source, f"{type(exc).__name__}: {exc}",
                       latency=time.monotonic() - started)  # fmt: skip
            raise
        except BaseException:
            self.event("cancelled", name, source, latency=time.monotonic() - started)
            raise
        usage = Usage.of_reply(reply)
        self.charge(name, usage)
        self.event("reply", name, source, reply, latency=time.monotonic() - started, usage=usage)
        return reply


@asynccontextmanager
async def running(
    system: ActorSystem,
    record: RunRecord,
    *,
    timeout: float | None,
    control: RunControl | None,
) -> AsyncIterator[Run]:
    """Run the block under the run's deadline and control; always fill in the record's end.

    A deadline or an outside cancellation ends the block early without an exception: the
    record's status says ``timed_out`` / ``cancelled`` (the pattern keeps what it had). With
    a tracer on the system, the run is a span (see ``letta_actors.patterns._tracing``).
    """
    with _tracing.run_span(system, record):
        async with _running(system, record, timeout=timeout, control=control) as run:
            yield run


@asynccontextmanager
async def _running(
    system: ActorSystem, record: RunRecord, *, timeout: float | None, control: RunControl | None
) -> AsyncIterator[Run]:
    if timeout is not None and not timeout > 0:
        raise ValueError(f"run timeout must be > 0 seconds, got {timeout!r}")
    record.run_id = record.run_id or uuid.uuid4().hex[:12]
    record.started_at = time.time()
    run = Run(system, record)
    deadline = anyio.current_time() + (timeout if timeout is not None else math.inf)
    with anyio.CancelScope(deadline=deadline) as scope:
        if control is not None:
            control._scope = scope
            control.record = record
            if control.cancelled:
                scope.cancel()
        try:
            yield run
        except Exception as exc:
            record.status = RunStatus.FAILED
            record.error = f"{type(exc).__name__}: {exc}"
    if control is not None:
        control._scope = None
    if scope.cancelled_caught:
        cancelled = control is not None and control.cancelled
        record.status = RunStatus.CANCELLED if cancelled else RunStatus.TIMED_OUT
        why = "cancelled from outside" if cancelled else f"deadline of {timeout} s passed"
        run.event("cancelled" if cancelled else "timeout", "run", None, why)
    record.duration = run.now()
