"""Counters of one Letta agent actor, attached to its :class:`~letta_actors.actors.ActorStats`."""

from __future__ import annotations

from collections import Counter

from ..actors import ActorStats, Histogram
from ._metrics import LettaMetrics


class LettaStats:
    """Counters of one Letta agent actor (filled by the Letta agent actor).

    - ``requests``: requests to the Letta server by status (``ok``, ``error``, ``timeout``,
      ``rate_limited``, ``cancelled``, ``circuit_open``...); ``duration``: their latency.
    - ``prompt_tokens`` / ``completion_tokens`` / ``steps``: as reported by Letta's usage.
    - ``tool_calls``: client-side tool calls executed, by tool name.
    - ``server``: the Letta base URL; ``breaker_state``: its circuit breaker
      (``closed``, ``open``, ``half_open``).

    They live in the actor's ``ActorStats.extensions`` (:meth:`attach`, :meth:`of`), so they
    survive restarts, and a metrics scrape exports them (:meth:`metrics_exporter`).
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

    @classmethod
    def attach(cls, stats: ActorStats, server: str = "") -> LettaStats:
        """The Letta counters of the actor with ``stats``, attached now if it has none yet."""
        return stats.extension(cls, lambda: cls(server))

    @classmethod
    def of(cls, stats: ActorStats) -> LettaStats | None:
        """The Letta counters of the actor with ``stats``, or ``None`` (not a Letta agent)."""
        return stats.find(cls)

    @staticmethod
    def metrics_exporter(max_label_values: int) -> LettaMetrics:
        """The exporter of the ``letta_*`` families for one metrics collector (the collector
        calls it at the first scrape that meets Letta counters)."""
        return LettaMetrics(max_label_values)
