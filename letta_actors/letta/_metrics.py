"""The ``letta_*`` metric families: how a metrics scrape exports :class:`LettaStats`.

Plugged into :mod:`letta_actors.metrics` through its extension point
(:meth:`LettaStats.metrics_exporter`): one :class:`LettaMetrics` per collector, made at the
first scrape that meets a Letta agent. Series are labelled by the actor (or group), the
server (its base URL without credentials) and, per family, status, token kind, tool or
breaker state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..metrics import LE, SUBJECT, Family, LabelGuard, Labels, metric_spec, server_label

if TYPE_CHECKING:
    from ._stats import LettaStats

S = SUBJECT
REQUESTS = metric_spec(
    "letta_requests_total",
    "counter",
    (S, "server", "status"),
    "Requests to a Letta server by status (ok, error, timeout, rate_limited, cancelled, "
    "circuit_open, ...).",
)
DURATION = metric_spec(
    "letta_request_duration_seconds",
    "histogram",
    (S, "server"),
    "Latency of requests to a Letta server (a multi-step agent turn can take minutes).",
)
TOKENS = metric_spec(
    "letta_tokens_total",
    "counter",
    (S, "server", "kind"),
    "LLM tokens reported by Letta's usage, by kind (prompt, completion).",
)
STEPS = metric_spec(
    "letta_steps_total", "counter", (S, "server"), "Agent steps reported by Letta's usage."
)
TOOL_CALLS = metric_spec(
    "letta_tool_calls_total",
    "counter",
    (S, "server", "tool"),
    "Client-side tool calls executed by Letta agent actors, by tool.",
)
BREAKER = metric_spec(
    "letta_circuit_breaker_state",
    "gauge",
    (S, "server", "state"),
    "Circuit breaker state towards a Letta server: 1 for the current state (closed, open, "
    "half_open), 0 otherwise; with group labels, the number of agents in that state.",
)
#: The families a scrape exports for Letta agents (documented in ``docs/metrics.md``).
METRICS = (REQUESTS, DURATION, TOKENS, STEPS, TOOL_CALLS, BREAKER)
#: Circuit breaker states always exported for a Letta agent (0 or 1 each).
BREAKER_STATES: tuple[str, ...] = ("closed", "open", "half_open")

#: (actor or group, server label)
Key = tuple[str, str]


def _add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


class _Totals:
    """Letta counters of one (actor or group, server)."""

    __slots__ = ("completion", "duration", "duration_sum", "prompt", "requests", "steps",
                 "tool_calls")  # fmt: skip

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.tool_calls: dict[str, int] = {}
        self.duration = [0] * len(LE)
        self.duration_sum = 0.0
        self.prompt = self.completion = self.steps = 0

    def add(self, s: LettaStats, status: LabelGuard, tool: LabelGuard) -> None:
        """Add ``s``; ``status`` and ``tool`` map raw label values to exported ones."""
        requests, tool_calls = self.requests, self.tool_calls
        for raw, n in dict(s.requests).items():  # inlined: this runs per agent and scrape
            key = status(str(raw))
            requests[key] = requests.get(key, 0) + n
        for raw, n in dict(s.tool_calls).items():
            key = tool(str(raw))
            tool_calls[key] = tool_calls.get(key, 0) + n
        self.duration = [a + b for a, b in zip(self.duration, s.duration.counts, strict=True)]
        self.duration_sum += s.duration.sum
        self.prompt += s.prompt_tokens
        self.completion += s.completion_tokens
        self.steps += s.steps

    def add_totals(self, t: _Totals) -> None:
        _add_counts(self.requests, t.requests)
        _add_counts(self.tool_calls, t.tool_calls)
        self.duration = [a + b for a, b in zip(self.duration, t.duration, strict=True)]
        self.duration_sum += t.duration_sum
        self.prompt += t.prompt
        self.completion += t.completion
        self.steps += t.steps


class LettaMetrics:
    """Exports the :class:`LettaStats` of one collector's system (a
    :class:`~letta_actors.metrics.MetricsExporter`).

    Status, tool, server and breaker-state label values keep at most ``max_label_values``
    distinct values each (later ones become ``__other__``). Keeps the totals of retired
    agents by (group, server).
    """

    def __init__(self, max_label_values: int) -> None:
        self.status = LabelGuard(max_label_values)
        self.tool = LabelGuard(max_label_values)
        self.breaker = LabelGuard(max_label_values)
        self._server_guard = LabelGuard(max_label_values)
        self._servers: dict[str, str] = {}
        self._max_servers = 4 * max_label_values
        self.retired: dict[Key, _Totals] = {}

    def server(self, url: str) -> str:
        """The ``server`` label of a Letta base URL (memoised)."""
        label = self._servers.get(url)
        if label is None:
            label = self._server_guard(server_label(url))
            if len(self._servers) < self._max_servers:
                self._servers[url] = label
        return label

    def reading(self) -> LettaReading:
        return LettaReading(self)

    def retire(self, key: str, stats: LettaStats) -> None:
        lkey = (key, self.server(stats.server))
        dest = self.retired.get(lkey)
        if dest is None:
            dest = self.retired[lkey] = _Totals()
        dest.add(stats, self.status, self.tool)


class LettaReading:
    """One scrape's Letta totals and breaker states per (label value, server)."""

    def __init__(self, exporter: LettaMetrics) -> None:
        self._exporter = exporter
        self.totals: dict[Key, _Totals] = {}
        self.breakers: dict[Key, dict[str, int]] = {}

    def add(self, key: str, stats: LettaStats) -> None:
        exporter = self._exporter
        lkey = (key, exporter.server(stats.server))
        totals = self.totals.get(lkey)
        if totals is None:
            totals = self.totals[lkey] = _Totals()
        totals.add(stats, exporter.status, exporter.tool)
        breakers = self.breakers.setdefault(lkey, dict.fromkeys(BREAKER_STATES, 0))
        state = exporter.breaker(str(stats.breaker_state))
        breakers[state] = breakers.get(state, 0) + 1

    def families(self, subject: str) -> Iterator[Family]:
        for lkey, retired in self._exporter.retired.items():
            totals = self.totals.get(lkey)
            if totals is None:
                totals = self.totals[lkey] = _Totals()
                self.breakers[lkey] = dict.fromkeys(BREAKER_STATES, 0)
            totals.add_totals(retired)
        rows: list[tuple[Labels, _Totals]] = [
            (((subject, key), ("server", server)), t) for (key, server), t in self.totals.items()
        ]
        m = Family(REQUESTS)
        m.set_rows(
            ((*labels, ("status", status)), n)
            for labels, t in rows
            for status, n in t.requests.items()
        )
        yield m
        m = Family(DURATION, LE)
        m.labels = [labels for labels, _ in rows]
        m.values = [n for _, t in rows for n in t.duration]
        m.sums = [t.duration_sum for _, t in rows]
        yield m
        m = Family(TOKENS)
        m.set_rows(
            row
            for labels, t in rows
            for row in (
                ((*labels, ("kind", "prompt")), t.prompt),
                ((*labels, ("kind", "completion")), t.completion),
            )
        )
        yield m
        m = Family(STEPS)
        m.set_rows((labels, t.steps) for labels, t in rows)
        yield m
        m = Family(TOOL_CALLS)
        m.set_rows(
            ((*labels, ("tool", tool)), n) for labels, t in rows for tool, n in t.tool_calls.items()
        )
        yield m
        m = Family(BREAKER)
        m.set_rows(
            (((subject, key), ("server", server), ("state", state)), n)
            for (key, server), counts in self.breakers.items()
            for state, n in counts.items()
        )
        yield m
