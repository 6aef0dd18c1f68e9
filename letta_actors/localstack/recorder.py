"""Recording of what the scripted LLM was sent, and its counters.

The state belongs to one app instance (no module-level state). Counters are
only changed from the app's event loop; waiters (see :meth:`Recorder.wait_for`)
are woken on every change.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import anyio
from pydantic import BaseModel, Field

from letta_actors.localstack.rules import ChatView


class RecordedRequest(BaseModel):
    """One request to ``/v1/chat/completions`` or ``/v1/embeddings``."""

    number: int = Field(description="1-based, counted over all recorded endpoints")
    endpoint: str
    received_at: float
    view: ChatView | None = None
    rule: str | None = Field(default=None, description="name of the rule that answered")
    status: int | None = Field(default=None, description="HTTP status answered (None: pending)")
    body: dict[str, Any] = Field(default_factory=dict, description="{} when not requested")


class Stats(BaseModel):
    """Counters since the last reset.

    ``in_flight`` / ``peak_in_flight`` count chat completions only (the LLM calls),
    from the moment the body was read until the answer was fully sent.
    """

    total_requests: int = 0
    chat_requests: int = 0
    embedding_requests: int = 0
    streamed_requests: int = 0
    error_responses: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0


class Recorder:
    """Bounded request log (oldest dropped first) plus :class:`Stats`."""

    def __init__(self, max_requests: int = 500) -> None:
        self._requests: collections.deque[RecordedRequest] = collections.deque(maxlen=max_requests)
        self._stats = Stats()
        self._waiters: list[anyio.Event] = []
        self._number = 0

    # -- recording ---------------------------------------------------------
    def record(self, endpoint: str, body: dict[str, Any], view: ChatView | None) -> RecordedRequest:
        self._number += 1
        rec = RecordedRequest(
            number=self._number, endpoint=endpoint, received_at=time.time(), view=view, body=body
        )
        self._requests.append(rec)
        s = self._stats
        s.total_requests += 1
        if endpoint == "chat":
            s.chat_requests += 1
            if view is not None and view.stream:
                s.streamed_requests += 1
        elif endpoint == "embeddings":
            s.embedding_requests += 1
        self._changed()
        return rec

    def finish(self, rec: RecordedRequest, status: int, rule: str | None) -> None:
        rec.status, rec.rule = status, rule
        if status >= 400:
            self._stats.error_responses += 1
        self._changed()

    def enter(self) -> None:
        s = self._stats
        s.in_flight += 1
        s.peak_in_flight = max(s.peak_in_flight, s.in_flight)
        self._changed()

    def leave(self) -> None:
        self._stats.in_flight -= 1
        self._changed()

    # -- reading -----------------------------------------------------------
    def stats(self) -> Stats:
        return self._stats.model_copy()

    def requests(self, limit: int | None = None) -> list[RecordedRequest]:
        items = list(self._requests)
        return items if limit is None else items[-limit:] if limit > 0 else []

    def reset(self) -> None:
        """Forget recorded requests and zero counters; requests still running stay counted
        in ``in_flight`` (and so in ``peak_in_flight``)."""
        self._requests.clear()
        in_flight = self._stats.in_flight
        self._stats = Stats(in_flight=in_flight, peak_in_flight=in_flight)
        self._changed()

    async def wait_for(
        self,
        *,
        in_flight_at_least: int | None = None,
        chat_requests_at_least: int | None = None,
        limit_seconds: float,
    ) -> bool:
        """Wait until all given thresholds hold; False if ``limit_seconds`` passed first."""

        def done() -> bool:
            s = self._stats
            return (in_flight_at_least is None or s.in_flight >= in_flight_at_least) and (
                chat_requests_at_least is None or s.chat_requests >= chat_requests_at_least
            )

        with anyio.move_on_after(limit_seconds):
            while not done():
                event = anyio.Event()
                self._waiters.append(event)
                await event.wait()
        return done()

    def _changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()
