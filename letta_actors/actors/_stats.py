"""Per-actor counters kept on the hot path as plain integers.

Exporters (Prometheus, the health report) read them when asked; the runtime never calls a
metrics library per message. Histograms are arrays of bucket counts over :data:`BUCKETS`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

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
    """

    __slots__ = (
        "asks_timed_out",
        "cancelled",
        "dropped",
        "escalations",
        "expired",
        "failed",
        "handling",
        "last_error",
        "letta",
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
        #: Set by actors that wrap a Letta agent.
        self.letta: LettaStats | None = None


class LettaStats:
    """Counters of one Letta agent actor (filled by the Letta agent actor).

    - ``requests``: requests to the Letta server by status (``ok``, ``error``, ``timeout``,
      ``rate_limited``, ``cancelled``, ``circuit_open``...); ``duration``: their latency.
    - ``prompt_tokens`` / ``completion_tokens`` / ``steps``: as reported by Letta's usage.
    - ``tool_calls``: client-side tool calls executed, by tool name.
    - ``server``: the Letta base URL; ``breaker_state``: its circuit breaker
      (``closed``, ``open``, ``half_open``).
    """

    __slots__ = (
        "breaker_state",
        "completion_tokens",
        "duration",
        "prompt_tokens",
        "requests",
        "server",
        "steps",
        "tool_calls",
    )

    def __init__(self, server: str = "") -> None:
        self.server = server
        self.requests: Counter[str] = Counter()
        self.duration = Histogram()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.steps = 0
        self.tool_calls: Counter[str] = Counter()
        self.breaker_state = "closed"
