"""Per-actor counters kept on the hot path as plain integers.

Exporters (Prometheus, the health report) read them when asked; the runtime never calls a
metrics library per message. Histograms are arrays of bucket counts over :data:`BUCKETS`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import TypeVar

_E = TypeVar("_E")

#: Upper bounds (seconds) shared by the handling-time and mailbox-wait histograms: from 10 µs
#: (an in-process handler) to 10 min (a multi-step LLM turn). The last bucket is +Inf.
BUCKETS: tuple[float, ...] = (
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip


class Histogram:
    """Bucket counts (non-cumulative, one extra for +Inf) and their sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)


class ActorStats:
    """Counters of one actor name; they survive restarts (the mailbox does too).

    - ``received``: messages accepted into the mailbox.
    - ``processed``: handled without error; ``failed``: handler raised; ``cancelled``: handling
      cancelled (stop deadline, or an abandoned ask); ``expired``: an ask skipped because its
      asker had already given up.
    - ``dropped``: overflow drops (``drop_newest`` / ``drop_oldest``) and ``fail`` refusals.
    - ``asks_timed_out``: asks to this actor whose asker timed out.
    - ``restarts``, ``escalations`` (supervisors only): supervision events.
    - ``extensions``: counters an integration keeps for this actor (an agent framework's, say),
      by their type; ``None`` until one is attached with :meth:`extension`. Exporters find
      them there (see ``docs/metrics.md``, "Adding metrics from an integration").
    """

    __slots__ = (
        "asks_timed_out",
        "cancelled",
        "dropped",
        "escalations",
        "expired",
        "extensions",
        "failed",
        "handling",
        "last_error",
        "processed",
        "received",
        "restarts",
        "waiting",
    )

    def __init__(self) -> None:
        self.received = 0
        self.processed = 0
        self.failed = 0
        self.cancelled = 0
        self.expired = 0
        self.dropped = 0
        self.asks_timed_out = 0
        self.restarts = 0
        self.escalations = 0
        self.last_error: str | None = None
        self.handling = Histogram()
        self.waiting = Histogram()
        self.extensions: dict[type, object] | None = None

    def extension(self, kind: type[_E], make: Callable[[], _E]) -> _E:
        """The counters of type ``kind`` attached to this actor; ``make()`` attaches them the
        first time (they live as long as these counters: across restarts)."""
        extensions = self.extensions
        if extensions is None:
            extensions = self.extensions = {}
        found = extensions.get(kind)
        if found is None:
            found = extensions[kind] = make()
        return found  # type: ignore[return-value]

    def find(self, kind: type[_E]) -> _E | None:
        """The counters of type ``kind`` attached to this actor, or ``None``."""
        found = self.extensions.get(kind) if self.extensions is not None else None
        return found  # type: ignore[return-value]
