"""The scrape-time collector: reads the runtime's plain counters and builds metric families.

Nothing here runs per message. The runtime keeps ints and bucket arrays
(:mod:`letta_actors.actors._stats`); :meth:`SystemCollector.collect` reads them when a scrape
asks, converts the non-cumulative bucket counts to Prometheus' cumulative ``le`` buckets and
aggregates by group when the system is labelled by group.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from ..actors._cell import ActorState, DeadLetterReason
from ..actors._info import ActorInfo
from ..actors._stats import BUCKETS, ActorStats, LettaStats
from ..supervisors._supervisor import Supervisor
from . import _catalog as c
from ._family import Family, Labels

if TYPE_CHECKING:
    from ..system import ActorSystem

log = logging.getLogger("letta_actors.metrics")

LabelMode = Literal["actor", "group"]
GroupOf = Callable[[ActorInfo], str]

_NB = len(BUCKETS) + 1
#: ``le`` label values, formatted once the way prometheus-client formats them.
_LE: tuple[str, ...] = (*(floatToGoString(b) for b in BUCKETS), "+Inf")  # type: ignore[no-untyped-call]
_STATES: tuple[str, ...] = tuple(state.value for state in ActorState)
_REASONS: tuple[str, ...] = tuple(reason.value for reason in DeadLetterReason)


def default_group_of(info: ActorInfo) -> str:
    """The default group: the actor's class name (its role), else its supervisor's name."""
    return info.actor_class or f"{info.supervisor or 'none'}/children"


class LabelGuard:
    """Admits at most ``limit`` distinct values of one label; later newcomers become ``OTHER``.

    Admission is stable (an admitted value stays admitted), so series never change label
    values between scrapes and counters of ``OTHER`` never go backwards.
    """

    __slots__ = ("_admitted", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._admitted: set[str] = set()

    def __call__(self, value: str) -> str:
        admitted = self._admitted
        if value in admitted:
            return value
        if len(admitted) < self.limit:
            admitted.add(value)
            return value
        return c.OTHER


def server_label(url: str) -> str:
    """A Letta base URL without credentials, query or fragment (never leak secrets in labels)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "invalid"
    if not parts.scheme and not host:
        return url.split("?", 1)[0].split("@")[-1]
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


class _Totals:
    """Counters of one label value (an actor, or a group of actors)."""

    __slots__ = (
        "asks_timed_out",
        "cancelled",
        "capacity",
        "depth",
        "dropped",
        "escalations",
        "expired",
        "failed",
        "handling",
        "handling_sum",
        "ok",
        "received",
        "restarts",
        "supervisor",
        "waiting",
        "waiting_sum",
    )

    def __init__(self) -> None:
        self.received = self.ok = self.failed = self.cancelled = self.expired = 0
        self.dropped = self.asks_timed_out = self.restarts = self.escalations = 0
        self.depth = self.capacity = 0
        self.handling = [0] * _NB
        self.waiting = [0] * _NB
        self.handling_sum = self.waiting_sum = 0.0
        self.supervisor = False

    def add(self, s: ActorStats, sign: int = 1) -> None:
        self.received += sign * s.received
        self.ok += sign * s.processed
        self.failed += sign * s.failed
        self.cancelled += sign * s.cancelled
        self.expired += sign * s.expired
        self.dropped += sign * s.dropped
        self.asks_timed_out += sign * s.asks_timed_out
        self.restarts += sign * s.restarts
        self.escalations += sign * s.escalations
        h, w = s.handling, s.waiting
        self.handling = [a + sign * b for a, b in zip(self.handling, h.counts, strict=True)]
        self.waiting = [a + sign * b for a, b in zip(self.waiting, w.counts, strict=True)]
        self.handling_sum += sign * h.sum
        self.waiting_sum += sign * w.sum

    def add_totals(self, t: _Totals, sign: int = 1) -> None:
        for name in (
            "received", "ok", "failed", "cancelled", "expired", "dropped", "asks_timed_out",
            "restarts", "escalations", "handling_sum", "waiting_sum",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + sign * getattr(t, name))
        self.handling = [a + sign * b for a, b in zip(self.handling, t.handling, strict=True)]
        self.waiting = [a + sign * b for a, b in zip(self.waiting, t.waiting, strict=True)]
        self.supervisor = self.supervisor or t.supervisor

    @classmethod
    def of(cls, s: ActorStats) -> _Totals:
        """The counters of one actor, read directly (no aggregation)."""
        t = cls.__new__(cls)
        t.received, t.ok, t.failed = s.received, s.processed, s.failed
        t.cancelled, t.expired, t.dropped = s.cancelled, s.expired, s.dropped
        t.asks_timed_out, t.restarts, t.escalations = s.asks_timed_out, s.restarts, s.escalations
        t.handling, t.handling_sum = list(s.handling.counts), s.handling.sum
        t.waiting, t.waiting_sum = list(s.waiting.counts), s.waiting.sum
        t.depth = t.capacity = 0
        t.supervisor = False
        return t


class _LettaTotals:
    """Letta counters of one (actor or group, server)."""

    __slots__ = ("breaker", "completion", "duration", "duration_sum", "prompt", "requests",
                 "steps", "tool_calls")  # fmt: skip

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.tool_calls: dict[str, int] = {}
        self.breaker: dict[str, int] = {}
        self.duration = [0] * _NB
        self.duration_sum = 0.0
        self.prompt = self.completion = self.steps = 0

    def add(self, s: LettaStats, guards: _Guards, sign: int = 1) -> None:
        for status, n in dict(s.requests).items():
            key = guards.status(str(status))
            self.requests[key] = self.requests.get(key, 0) + sign * n
        for tool, n in dict(s.tool_calls).items():
            key = guards.tool(str(tool))
            self.tool_calls[key] = self.tool_calls.get(key, 0) + sign * n
        self.duration = [a + sign * b for a, b in zip(self.duration, s.duration.counts,
                                                      strict=True)]  # fmt: skip
        self.duration_sum += sign * s.duration.sum
        self.prompt += sign * s.prompt_tokens
        self.completion += sign * s.completion_tokens
        self.steps += sign * s.steps

    def add_totals(self, t: _LettaTotals, sign: int = 1) -> None:
        for key, n in t.requests.items():
            self.requests[key] = self.requests.get(key, 0) + sign * n
        for key, n in t.tool_calls.items():
            self.tool_calls[key] = self.tool_calls.get(key, 0) + sign * n
        self.duration = [a + sign * b for a, b in zip(self.duration, t.duration, strict=True)]
        self.duration_sum += sign * t.duration_sum
        self.prompt += sign * t.prompt
        self.completion += sign * t.completion
        self.steps += sign * t.steps


class _Guards:
    """One :class:`LabelGuard` per label whose values come from code, not from a fixed set."""

    __slots__ = ("breaker", "group", "server", "status", "tool", "topic")

    def __init__(self, limit: int) -> None:
        self.group = LabelGuard(limit)
        self.topic = LabelGuard(limit)
        self.status = LabelGuard(limit)
        self.tool = LabelGuard(limit)
        self.server = LabelGuard(limit)
        self.breaker = LabelGuard(limit)


class SystemCollector:
    """A prometheus-client collector for one :class:`~letta_actors.ActorSystem`.

    ``labels="actor"`` labels per-actor series with ``actor=<name>``; ``labels="group"`` labels
    them with ``group=group_of(info)`` (memoised per actor at first sight) and sums the members.
    With group labels the totals of actors that stopped for good stay in their group, so group
    counters never go backwards; with actor labels a stopped actor's series disappear.
    """

    def __init__(
        self,
        system: ActorSystem,
        *,
        labels: LabelMode = "actor",
        group_of: GroupOf | None = None,
        max_label_values: int = 1000,
    ) -> None:
        if labels not in ("actor", "group"):
            raise ValueError(f"labels must be 'actor' or 'group', got {labels!r}")
        if group_of is not None and labels != "group":
            raise ValueError("group_of needs labels='group'")
        if max_label_values < 1:
            raise ValueError(f"max_label_values must be >= 1, got {max_label_values}")
        self.system = system
        self.mode: LabelMode = labels
        self.subject: str = labels
        self.group_of: GroupOf = group_of or default_group_of
        self.max_label_values = max_label_values
        self._guards = _Guards(max_label_values)
        self._servers: dict[str, str] = {}
        self._lock = threading.Lock()
        # group labels: each actor's group (memoised at first sight, by its counters' identity)
        # and the final totals of the actors that stopped for good, folded in as they stop
        self._groups: dict[int, str] = {}
        self._retired: dict[str, _Totals] = {}
        self._retired_letta: dict[tuple[str, str], _LettaTotals] = {}
        self._supervisors: dict[int, bool] = {}
        self._warned = False
        if labels == "group":
            system.retire_listeners.append(self._on_retired)

    def close(self) -> None:
        """Stop listening to the system (the collector keeps its totals)."""
        if self._on_retired in self.system.retire_listeners:
            self.system.retire_listeners.remove(self._on_retired)

    # -- prometheus-client protocol -------------------------------------------------------

    def describe(self) -> Iterable[Metric]:
        """The families (without samples), so registries detect name clashes at register."""
        return [Metric(spec.family, spec.help, spec.kind) for spec in c.CATALOG]

    def collect(self) -> list[Family]:
        with self._lock:
            return self._collect()

    # -- reading the runtime --------------------------------------------------------------

    def _snapshot(self) -> list[ActorInfo]:
        # In the event loop this cannot race; from a foreign thread (a registry scraped by
        # prometheus-client's threaded server) the registry dict may change size mid-copy.
        for _ in range(10):
            try:
                return self.system.actors()
            except RuntimeError:  # dictionary changed size during iteration
                continue
        return self.system.actors()

    def _server(self, url: str) -> str:
        label = self._servers.get(url)
        if label is None:
            label = self._guards.server(server_label(url))
            if len(self._servers) < 4 * self.max_label_values:
                self._servers[url] = label
        return label

    def _is_supervisor(self, info: ActorInfo) -> bool:
        key = id(info.stats)
        known = self._supervisors.get(key)
        if known is not None:
            return known
        cell = self.system.cell(info.name)
        instance = cell.instance if cell is not None and cell.stats is info.stats else None
        if instance is None:
            return info.stats.escalations > 0
        result = isinstance(instance, Supervisor)
        self._supervisors[key] = result
        return result

    def _collect(self) -> list[Family]:
        infos = self._snapshot()
        guards = self._guards
        totals: dict[str, _Totals] = {}
        letta: dict[tuple[str, str], _LettaTotals] = {}
        breakers: dict[tuple[str, str], dict[str, int]] = {}
        states: dict[tuple[str, str], int] = {}
        by_group = self.mode == "group"
        for info in infos:
            stats = info.stats
            if by_group:
                key = self._group(info)
                t = totals.get(key)
                if t is None:
                    t = totals[key] = _Totals()
                t.add(stats)
                states[key, info.state.value] = states.get((key, info.state.value), 0) + 1
            else:
                key = info.name
                t = totals[key] = _Totals.of(stats)
                states["", info.state.value] = states.get(("", info.state.value), 0) + 1
            t.depth += info.mailbox_depth
            t.capacity += info.mailbox_capacity
            if not t.supervisor:
                t.supervisor = self._is_supervisor(info)
            ls = stats.letta
            if ls is not None:
                lkey = (key, self._server(ls.server))
                lt = letta.get(lkey)
                if lt is None:
                    lt = letta[lkey] = _LettaTotals()
                lt.add(ls, guards)
                b = breakers.setdefault(lkey, dict.fromkeys(c.BREAKER_STATES, 0))
                state = guards.breaker(str(ls.breaker_state))
                b[state] = b.get(state, 0) + 1
        if by_group:
            for key, t in self._retired.items():
                dest = totals.get(key)
                if dest is None:
                    dest = totals[key] = _Totals()
                dest.add_totals(t)
            for lkey, lt in self._retired_letta.items():
                ldest = letta.get(lkey)
                if ldest is None:
                    ldest = letta[lkey] = _LettaTotals()
                    breakers[lkey] = dict.fromkeys(c.BREAKER_STATES, 0)
                ldest.add_totals(lt)
        else:
            live_ids = {id(info.stats) for info in infos}
            for sid in [sid for sid in self._supervisors if sid not in live_ids]:
                del self._supervisors[sid]
            if len(infos) > 10 * self.max_label_values and not self._warned:
                self._warned = True
                log.warning(
                    "%d actors labelled per actor: consider SystemMetrics(labels='group')",
                    len(infos),
                )
        return list(self._families(totals, letta, breakers, states))

    def _group(self, info: ActorInfo) -> str:
        key = id(info.stats)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = self._guards.group(str(self.group_of(info)))
        return group

    def _on_retired(self, info: ActorInfo) -> None:
        """Fold the final counters of an actor that stopped for good into its group."""
        with self._lock:
            group = self._group(info)
            del self._groups[id(info.stats)]
            self._supervisors.pop(id(info.stats), None)
            dest = self._retired.get(group)
            if dest is None:
                dest = self._retired[group] = _Totals()
            dest.add(info.stats)
            letta = info.stats.letta
            if letta is not None:
                lkey = (group, self._server(letta.server))
                ldest = self._retired_letta.get(lkey)
                if ldest is None:
                    ldest = self._retired_letta[lkey] = _LettaTotals()
                ldest.add(letta, self._guards)

    # -- building families ----------------------------------------------------------------

    def _families(
        self,
        totals: dict[str, _Totals],
        letta: dict[tuple[str, str], _LettaTotals],
        breakers: dict[tuple[str, str], dict[str, int]],
        states: dict[tuple[str, str], int],
    ) -> Iterator[Family]:
        subject = self.subject
        labelled: list[tuple[Labels, _Totals]] = [
            (((subject, key),), t) for key, t in totals.items()
        ]

        def simple(spec: c.MetricSpec, attr: str, only_supervisors: bool = False) -> Family:
            m = Family(spec)
            m.rows = [
                (labels, getattr(t, attr))
                for labels, t in labelled
                if t.supervisor or not only_supervisors
            ]
            return m

        yield simple(c.RECEIVED, "received")
        m = Family(c.PROCESSED)
        rows = m.rows
        for labels, t in labelled:
            rows.append(((*labels, ("outcome", "ok")), t.ok))
            rows.append(((*labels, ("outcome", "failed")), t.failed))
            rows.append(((*labels, ("outcome", "cancelled")), t.cancelled))
            rows.append(((*labels, ("outcome", "expired")), t.expired))
        yield m
        yield simple(c.DROPPED, "dropped")
        m = Family(c.HANDLING, _LE)
        m.histograms = [(labels, t.handling, t.handling_sum) for labels, t in labelled]
        yield m
        m = Family(c.WAITING, _LE)
        m.histograms = [(labels, t.waiting, t.waiting_sum) for labels, t in labelled]
        yield m
        yield simple(c.DEPTH, "depth")
        yield simple(c.CAPACITY, "capacity")
        m = Family(c.ACTORS)
        if self.mode == "group":
            m.rows = [
                (((subject, key), ("state", state)), states.get((key, state), 0))
                for key in totals
                for state in _STATES
            ]
        else:
            m.rows = [((("state", state),), states.get(("", state), 0)) for state in _STATES]
        yield m
        yield simple(c.RESTARTS, "restarts")
        yield simple(c.ESCALATIONS, "escalations", only_supervisors=True)
        yield simple(c.ASKS_TIMED_OUT, "asks_timed_out")

        m = Family(c.DEAD_LETTERS)
        dead = {str(reason): n for reason, n in dict(self.system.dead_letters.totals).items()}
        m.rows = [
            ((("reason", reason),), dead.get(reason, 0))
            for reason in (*_REASONS, *sorted(set(dead) - set(_REASONS)))
        ]
        yield m
        m = Family(c.PUBLISHES)
        published: dict[str, int] = {}
        for topic, n in dict(self.system.bus.topics.published).items():
            key = self._guards.topic(str(topic))
            published[key] = published.get(key, 0) + n
        m.rows = [((("topic", topic),), n) for topic, n in published.items()]
        yield m

        llabelled: list[tuple[Labels, _LettaTotals]] = [
            (((subject, key), ("server", server)), lt) for (key, server), lt in letta.items()
        ]
        m = Family(c.LETTA_REQUESTS)
        m.rows = [
            ((*labels, ("status", status)), n)
            for labels, lt in llabelled
            for status, n in lt.requests.items()
        ]
        yield m
        m = Family(c.LETTA_DURATION, _LE)
        m.histograms = [(labels, lt.duration, lt.duration_sum) for labels, lt in llabelled]
        yield m
        m = Family(c.LETTA_TOKENS)
        m.rows = [
            row
            for labels, lt in llabelled
            for row in (
                ((*labels, ("kind", "prompt")), lt.prompt),
                ((*labels, ("kind", "completion")), lt.completion),
            )
        ]
        yield m
        m = Family(c.LETTA_STEPS)
        m.rows = [(labels, lt.steps) for labels, lt in llabelled]
        yield m
        m = Family(c.LETTA_TOOL_CALLS)
        m.rows = [
            ((*labels, ("tool", tool)), n)
            for labels, lt in llabelled
            for tool, n in lt.tool_calls.items()
        ]
        yield m
        m = Family(c.LETTA_BREAKER)
        m.rows = [
            (((subject, key), ("server", server), ("state", state)), n)
            for (key, server), counts in breakers.items()
            for state, n in counts.items()
        ]
        yield m
