"""The reply slot of an ask: where the recipient puts its answer, at most once."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import anyio


class ReplySlot:
    """One-shot holder for the outcome of an ask.

    The recipient resolves it with :meth:`set_result` or :meth:`set_error`; later resolutions
    are ignored. When the asker gives up (timeout or cancellation) it calls :meth:`abandon`: the
    slot is then garbage once the recipient drops the envelope, so a late reply leaks nothing.
    If the recipient registered a cancel scope for the handling (``cancel_abandoned_asks``),
    abandoning cancels that handling. The wake-up event is only made if the asker has to wait.
    """

    __slots__ = (
        "__weakref__", "_event", "_factory", "abandoned", "deadline", "done", "error", "scope",
        "value",
    )  # fmt: skip

    def __init__(self, event_factory: Callable[[], anyio.Event] = anyio.Event) -> None:
        self._factory = event_factory
        self._event: anyio.Event | None = None
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.abandoned = False
        self.scope: anyio.CancelScope | None = None
        #: When the asker stops waiting (anyio's clock), for a route that sends the ask on:
        #: set by the bus for an ask to a name held elsewhere; ``inf`` otherwise.
        self.deadline = math.inf

    def _resolve(self) -> None:
        self.done = True
        if self._event is not None:
            self._event.set()

    def set_result(self, value: Any) -> None:
        if not self.done:
            self.value = value
            self.done = True
            if self._event is not None:
                self._event.set()

    def set_error(self, error: BaseException) -> None:
        if not self.done:
            self.error = error
            self._resolve()

    async def wait_done(self) -> None:
        """Wait until the slot is resolved."""
        if not self.done:
            if self._event is None:
                self._event = self._factory()
            await self._event.wait()

    def outcome(self) -> Any:
        """The value of a resolved slot, or raise its error."""
        if self.error is not None:
            raise self.error
        return self.value

    async def wait(self) -> Any:
        """Wait for the outcome; return the value or raise the error."""
        await self.wait_done()
        return self.outcome()

    def abandon(self) -> None:
        """The asker stopped waiting: skip or cancel the handling if it has not finished."""
        self.abandoned = True
        if self.scope is not None:
            self.scope.cancel()
