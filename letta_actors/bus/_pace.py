"""Pacing of sends: every send is a cancellation point, and every Nth a turn for other tasks.

Trio's rule, which anyio code expects: an async call of a library checks for cancellation, and a
loop of them cannot starve the scheduler. A send that finds room in the mailbox does not need to
wait, so without pacing a loop of tells would run until the mailbox fills (or forever, under a
``drop_*`` policy) while no other task, the recipient included, gets a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio.lowlevel

#: Sends between two turns given to other tasks (per system, counting every sender's sends).
#: Chosen by measurement (``docs/actors.md``): fewer turns cost tell throughput (each wakes the
#: recipient for a short batch), and a recipient as fast as its sender keeps up under a
#: ``drop_*`` policy as long as its mailbox holds about twice this many messages.
YIELD_EVERY = 256


def _asyncio_probe(pace: Pace) -> Callable[[], bool] | None:
    """``cancelled()`` for anyio's asyncio backend: True when a cancel scope around the calling
    task has been cancelled (what ``checkpoint_if_cancelled`` checks, at a third of its cost).

    It records the calling task and its anyio state in ``pace`` (``task``, ``state``):
    ``Bus.post`` walks that task's scopes itself when the same task sends again. ``None`` when
    anyio's internals are not the ones this was written for (then the bus awaits anyio's own
    check on every send).
    """
    try:
        from anyio._backends._asyncio import CancelScope, TaskState, _task_states
    except ImportError:  # pragma: no cover - another anyio layout
        return None
    if not {"cancel_scope"} <= set(TaskState.__slots__) or not all(
        hasattr(CancelScope(), name) for name in ("_cancel_called", "_shield", "_parent_scope")
    ):
        return None  # pragma: no cover
    # On Python 3.11, ``asyncio.current_task()`` is Python code that looks up the running loop;
    # the loop is the system's for its whole life, so look the task up in asyncio's own table
    # (a bound ``dict.get`` called with the loop: half the cost of a ``functools.partial``).
    tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = getattr(
        asyncio.tasks, "_current_tasks", None
    )
    if tasks is None:  # pragma: no cover - another asyncio layout
        return None
    pace.loop = asyncio.get_running_loop()
    pace.task_of = tasks.get

    def cancelled() -> bool:
        task = pace.task_of(pace.loop)
        state = _task_states.get(task) if task is not None else None
        if state is None:
            return False  # no anyio scope entered in this task yet
        pace.task, pace.state = task, state
        scope = state.cancel_scope
        while scope is not None:  # the same walk as in Bus.post
            if scope._cancel_called:
                return True
            if scope._shield:
                return False
            scope = scope._parent_scope
        return False

    return cancelled


class Pace:
    """The send counter and the running backend's checkpoints, resolved once per system.

    ``probe``, when set, tells cheaply whether ``if_cancelled`` would raise (asyncio); when
    ``None``, senders await ``if_cancelled`` every time (Trio's own check is cheap).
    ``task_of(loop) is task`` (asyncio): the sender is the one ``probe`` saw last, whose anyio
    ``state`` the bus reads directly (a call less on every tell, ~3 % of one).
    """

    __slots__ = (
        "checkpoint", "countdown", "if_cancelled", "loop", "probe", "state", "task", "task_of",
        "yield_turn",
    )  # fmt: skip

    def __init__(self) -> None:
        self.countdown = YIELD_EVERY
        self.probe: Callable[[], bool] | None = None
        self.loop: Any = None
        self.task_of: Callable[[Any], Any] = {}.get  # None: never the recorded task
        self.task: Any = object()
        self.state: Any = None
        #: A full checkpoint: yields, raises the cancellation if cancelled.
        self.checkpoint: Callable[[], Awaitable[None]] = anyio.lowlevel.checkpoint
        #: Raises the backend's cancellation if the calling task is cancelled; never yields
        #: otherwise.
        self.if_cancelled: Callable[[], Awaitable[None]] = anyio.lowlevel.checkpoint_if_cancelled
        self._set_yield(anyio.lowlevel.cancel_shielded_checkpoint)

    def _set_yield(self, shielded_checkpoint: Callable[[], Coroutine[Any, Any, None]]) -> None:
        async def yield_turn() -> None:
            """Let other tasks run (not a cancellation point: the send has happened)."""
            self.countdown = YIELD_EVERY
            await shielded_checkpoint()

        self.yield_turn = yield_turn

    def bind(self) -> None:
        """Use the running backend's checkpoints directly (called on the system's entry)."""
        if anyio.get_cancelled_exc_class() is asyncio.CancelledError:
            from anyio._core._eventloop import get_async_backend

            backend = get_async_backend()
            self.probe = _asyncio_probe(self)
            self.checkpoint = backend.checkpoint
            self.if_cancelled = backend.checkpoint_if_cancelled
            self._set_yield(backend.cancel_shielded_checkpoint)
        else:
            import trio

            self.checkpoint = trio.lowlevel.checkpoint
            self.if_cancelled = trio.lowlevel.checkpoint_if_cancelled
            self._set_yield(trio.lowlevel.cancel_shielded_checkpoint)
