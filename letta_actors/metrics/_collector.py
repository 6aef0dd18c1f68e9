"""The scrape-time collector: reads the runtime's plain counters and builds metric families.

Nothing here runs per message. The runtime keeps ints and bucket arrays
(:mod:`letta_actors.actors._stats`); :meth:`SystemCollector.collect` reads them when a scrape
asks, converts the non-cumulative bucket counts to Prometheus' cumulative ``le`` buckets and
aggregates by group when the system is labelled by group. Counters an integration attaches
to an actor (``ActorStats.extensions``) are exported by that integration's exporter, found
through the extension point (:mod:`._extension`).

The reading is a generator of steps (:meth:`SystemCollector._read`), each reading at most
:data:`~._index.CHUNK` actors. ``collect()`` runs all steps at once; the asynchronous
:meth:`SystemCollector.refresh` runs them with a checkpoint between steps, so a scrape of
10,000 actors never blocks the event loop for long, and keeps the result for the next
``collect()``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from functools import partial
from itertools import chain, compress
from operator import attrgetter
from typing import TYPE_CHECKING, Literal, TypeVar, cast
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
from prometheus_client.metrics_core import Metric

from ..actors import ActorInfo, ActorState, ActorStats, DeadLetterReason
from . import _catalog as c
from ._extension import ExtensionReading, MetricsExporter
from ._family import LE, Family, Labels
from ._index import CHUNK, Members, Registry, supervises
from ._totals import COUNTERS, Totals

if TYPE_CHECKING:
    from ..actors import ActorCell
    from ..system import ActorSystem

log = logging.getLogger("letta_actors.metrics")

LabelMode = Literal["actor", "group"]
GroupOf = Callable[[ActorInfo], str]
_T = TypeVar("_T")
#: A reading in steps: yields between steps, returns the result.
Steps = Generator[None, None, _T]

_STATE = attrgetter("state")
_EXTENSIONS = attrgetter("extensions")
_CAPACITY = attrgetter("capacity")
_SUM = attrgetter("sum")
_COUNTS = attrgetter("counts")
_HANDLING = attrgetter("handling")
_WAITING = attrgetter("waiting")
_MAILBOX = attrgetter("mailbox")
_OUTCOMES = attrgetter("processed", "failed", "cancelled", "expired")
#: The counters exported as one plain row per series: (name in Totals, reader of ActorStats).
_PLAIN = tuple(
    (name, attrgetter(stat))
    for name, stat in COUNTERS
    if name in ("received", "dropped", "restarts", "asks_timed_out")
)
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
    """A server's base URL without credentials, query or fragment (never leak secrets in
    labels): the ``server`` label of an integration's families."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "invalid"
    if not parts.scheme and not host:
        return url.split("?", 1)[0].split("@")[-1]
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


class SystemCollector:
    """A prometheus-client collector for one :class:`~letta_actors.ActorSystem`.

    ``labels="actor"`` labels per-actor series with ``actor=<name>``; ``labels="group"`` labels
    them with ``group=group_of(info)`` (memoised per actor at first sight) and sums the members.
    With group labels the totals of actors that stopped for good stay in their group, so group
    counters never go backwards; with actor labels a stopped actor's series disappear.

    ``collect()`` reads every actor at once. ``await refresh()`` (what the endpoints do before
    collecting) reads them :data:`~._index.CHUNK` at a time, letting the event loop run
    between chunks, and keeps the families for the next ``collect()``. The chunks are read at
    slightly different instants, as if the scrape had taken that long; counters still never go
    backwards from one scrape to the next, and a quiescent system gives the same output either
    way. Actors that start or stop meanwhile are seen by the next scrape.
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
        self._group_guard = LabelGuard(max_label_values)
        self._topic_guard = LabelGuard(max_label_values)
        # the exporters of the integrations' counters met so far, by their type (None: a type
        # without metrics_exporter); see ._extension
        self._exporters: dict[type, MetricsExporter | None] = {}
        self._lock = threading.Lock()
        # group labels: each actor's group (memoised at first sight, by its counters' identity)
        # and the final totals of the actors that stopped for good, folded in as they stop
        self._groups: dict[int, str] = {}
        self._retired: dict[str, Totals] = {}
        self._supervisors: dict[int, bool] = {}
        # the registry as of the last scrape; with actor labels, each actor's label tuples
        # (by id of its counters) and the positions of the supervisors
        self._registry = Registry(
            self._key_of, self._is_supervisor, self._forget, grouped=labels == "group"
        )
        self._label_cache: dict[int, tuple[Labels, tuple[Labels, ...]]] = {}
        self._labels: list[Labels] = []
        self._outcome_labels: list[Labels] = []
        self._supervisor_at: list[int] = []
        self._undecided_at: list[int] = []
        self._warned = False
        # refresh(): one chunked reading at a time; its result, for the next collect(); the
        # count of readings started (a collect() between two steps makes a refresh give up);
        # the actors that retired meanwhile (folded in by the next reading, not in its middle)
        self._refreshing = anyio.Lock()
        self._refreshed: list[Family] | None = None
        self._readings = 0
        self._in_refresh = False
        self._retiring: deque[ActorInfo] = deque()
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
        """The families: those of the last :meth:`refresh` if not collected yet, else read now."""
        with self._lock:
            families, self._refreshed = self._refreshed, None
            if families is not None:
                return families
            self._readings += 1
            steps = self._read()
            while True:
                try:
                    next(steps)
                except StopIteration as done:
                    result: list[Family] = done.value
                    return result

    async def refresh(self) -> None:
        """Read the runtime in chunks, checkpointing between them, for the next ``collect()``.

        If a ``collect()`` reads meanwhile (another thread, or a synchronous scrape), this one
        gives up and the next ``collect()`` reads at once. Cancelled, it leaves nothing behind.
        """
        async with self._refreshing:
            with self._lock:
                self._readings += 1
                reading = self._readings
                self._in_refresh = True
            steps = self._read()
            try:
                while True:
                    with self._lock:
                        if self._readings != reading:
                            return
                        try:
                            next(steps)
                        except StopIteration as done:
                            self._refreshed = done.value
                            return
                    await anyio.lowlevel.checkpoint()
            finally:
                steps.close()
                with self._lock:
                    self._in_refresh = False

    def discard(self) -> None:
        """Forget the families of the last :meth:`refresh` (their ``collect()`` did not come)."""
        with self._lock:
            self._refreshed = None

    # -- reading the runtime --------------------------------------------------------------

    def _cells(self) -> list[ActorCell]:
        # The cells themselves: an ActorInfo per actor per scrape (system.actors()) would cost
        # more than the rest of the scrape. Safe from a foreign thread (a registry scraped by
        # prometheus-client's threaded server).
        return self.system.registry.cells()

    def _update(self) -> Registry:
        """The registry as of now (only what changed since the last scrape is looked at)."""
        while self._retiring:
            self._retire(self._retiring.popleft())
        registry = self._registry
        if registry.update(self._cells()) and self.mode == "actor":
            self._align_actors(registry)
        return registry

    def _key_of(self, cell: ActorCell) -> str:
        if self.mode == "actor":
            return cell.name
        return self._group(cell.stats, partial(ActorInfo.of, cell))

    def _forget(self, sid: int) -> None:
        """Drop what is memoised about counters that left the registry."""
        self._supervisors.pop(sid, None)
        self._groups.pop(sid, None)
        self._label_cache.pop(sid, None)

    def _align_actors(self, registry: Registry) -> None:
        """Align the label tuples (made once per actor) and supervisors with ``registry``."""
        cache = self._label_cache
        subject = self.subject
        entries = list(map(cache.get, registry.ids))
        for i in [i for i, entry in enumerate(entries) if entry is None]:
            labels: Labels = ((subject, registry.keys[i]),)
            outcomes = tuple((*labels, ("outcome", o)) for o in c.OUTCOMES)
            entries[i] = cache[registry.ids[i]] = (labels, outcomes)
        made = cast(list[tuple[Labels, tuple[Labels, ...]]], entries)
        self._labels = [labels for labels, _ in made]
        self._outcome_labels = list(chain.from_iterable(rows for _, rows in made))
        flags = list(map(self._supervisors.get, registry.ids))
        for i in [i for i, flag in enumerate(flags) if flag is None]:
            flags[i] = self._is_supervisor(registry.cells[i])
        self._supervisor_at = [i for i, flag in enumerate(flags) if flag]
        self._undecided_at = [i for i, flag in enumerate(flags) if flag is None]

    def _exporter(self, kind: type) -> MetricsExporter | None:
        """The exporter of counters of type ``kind`` (made at first sight), None if it has none."""
        try:
            return self._exporters[kind]
        except KeyError:
            make = getattr(kind, "metrics_exporter", None)
            exporter = self._exporters[kind] = make(self.max_label_values) if make else None
            return exporter

    def _is_supervisor(self, cell: ActorCell) -> bool | None:
        """Whether ``cell`` runs a supervisor (``None``: not known, it has no instance yet)."""
        key = id(cell.stats)
        known = self._supervisors.get(key)
        if known is not None:
            return known
        result = cell.is_supervisor
        if result is None:
            return None
        self._supervisors[key] = result
        return result

    def _group(self, stats: ActorStats, info: Callable[[], ActorInfo]) -> str:
        """The group of the actor with these counters (``group_of(info())`` at first sight)."""
        key = id(stats)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = self._group_guard(str(self.group_of(info())))
        return group

    def _on_retired(self, info: ActorInfo) -> None:
        """Fold the final counters of an actor that stopped for good into its group (during a
        :meth:`refresh`, at its end: that reading still counts the actor among the live)."""
        with self._lock:
            if self._in_refresh:
                self._retiring.append(info)
            else:
                self._retire(info)

    def _retire(self, info: ActorInfo) -> None:
        group = self._group(info.stats, lambda: info)
        del self._groups[id(info.stats)]
        self._supervisors.pop(id(info.stats), None)
        dest = self._retired.get(group)
        if dest is None:
            dest = self._retired[group] = Totals()
        dest.add(info.stats)
        for kind, stats in list((info.stats.extensions or {}).items()):
            exporter = self._exporter(kind)
            if exporter is not None:
                exporter.retire(group, stats)

    def _read(self) -> Steps[list[Family]]:
        """Read the runtime, one step per chunk of actors; the families in the end."""
        registry = self._update()
        yield
        readings = yield from self._extensions(registry)
        if not registry.grouped:
            series = yield from self._by_actor(registry)
            if len(registry.keys) > 10 * self.max_label_values and not self._warned:
                self._warned = True
                log.warning(
                    "%d actors labelled per actor: consider SystemMetrics(labels='group')",
                    len(registry.keys),
                )
        else:
            series = yield from self._by_group(registry.members)
        families = [*self._actor_families(series), *self._system_families()]
        for reading in readings:
            families.extend(reading.families(self.subject))
        return families

    def _extensions(self, registry: Registry) -> Steps[list[ExtensionReading]]:
        """One reading per exporter met so far, with the live actors' extension counters."""
        readings: dict[type, ExtensionReading] = {}
        for start in range(0, len(registry.stats), CHUNK):
            keys = registry.keys[start : start + CHUNK]
            found = list(map(_EXTENSIONS, registry.stats[start : start + CHUNK]))
            for key, extensions in compress(zip(keys, found, strict=True), found):
                for kind, stats in list(extensions.items()):
                    reading = readings.get(kind)
                    if reading is None:
                        exporter = self._exporter(kind)
                        if exporter is None:
                            continue
                        reading = readings[kind] = exporter.reading()
                    reading.add(key, stats)
            yield
        # exporters met before and no live actor of theirs now: their families stay (retired
        # totals, or no series)
        return [
            reading if (reading := readings.get(kind)) is not None else exporter.reading()
            for kind, exporter in self._exporters.items()
            if exporter is not None
        ]

    def _by_actor(self, registry: Registry) -> Steps[_Series]:
        """One series per live actor, read straight from its counters."""
        cells, stats, labels = registry.cells, registry.stats, self._labels
        values: dict[str, list[float]] = {name: [] for name, _ in _PLAIN}
        outcomes: list[float] = []
        depth: list[float] = []
        capacity: list[float] = []
        handling: tuple[list[int], list[float]] = ([], [])
        waiting: tuple[list[int], list[float]] = ([], [])
        states: Counter[ActorState] = Counter()
        for start in range(0, len(stats), CHUNK):
            chunk, chunk_cells = stats[start : start + CHUNK], cells[start : start + CHUNK]
            for name, read in _PLAIN:
                values[name].extend(map(read, chunk))
            outcomes.extend(chain.from_iterable(map(_OUTCOMES, chunk)))
            mailboxes = list(map(_MAILBOX, chunk_cells))
            depth.extend(map(len, mailboxes))
            capacity.extend(map(_CAPACITY, mailboxes))
            for column, read in ((handling, _HANDLING), (waiting, _WAITING)):
                histograms = list(map(read, chunk))
                column[0].extend(chain.from_iterable(map(_COUNTS, histograms)))
                column[1].extend(map(_SUM, histograms))
            states.update(map(_STATE, chunk_cells))
            yield
        at = self._supervisor_at
        if self._undecided_at:
            now = [i for i in self._undecided_at if supervises(cells[i], self._is_supervisor)]
            at = sorted(at + now)
        return _Series(
            labels=labels,
            outcome_labels=self._outcome_labels,
            values=values,
            outcomes=outcomes,
            depth=depth,
            capacity=capacity,
            handling=handling,
            waiting=waiting,
            escalations=[(labels[i], stats[i].escalations) for i in at],
            actors=[((("state", st.value),), states.get(st, 0)) for st in ActorState],
        )

    def _by_group(self, members: dict[str, list[Members]]) -> Steps[_Series]:
        """One series per group: its live members summed, plus the actors that stopped."""
        totals: dict[str, Totals] = {}
        states: dict[tuple[str, ActorState], int] = {}
        for key, shards in members.items():
            t = totals[key] = Totals()
            for m in shards:
                t.add_members(m)
                t.depth += sum(map(len, m.mailboxes.values()))
                t.capacity += sum(map(_CAPACITY, m.mailboxes.values()))
                t.supervisor = m.has_supervisor(self._is_supervisor) or t.supervisor
                for state, n in Counter(map(_STATE, m.cells.values())).items():
                    states[key, state] = states.get((key, state), 0) + n
                yield
        for key, retired in self._retired.items():
            dest = totals.get(key)
            if dest is None:
                dest = totals[key] = Totals()
            dest.add_totals(retired)
        subject = self.subject
        labels: list[Labels] = [((subject, key),) for key in totals]
        ts = list(totals.values())
        return _Series(
            labels=labels,
            outcome_labels=[(*row, ("outcome", o)) for row in labels for o in c.OUTCOMES],
            values={name: [getattr(t, name) for t in ts] for name, _ in _PLAIN},
            outcomes=[n for t in ts for n in (t.ok, t.failed, t.cancelled, t.expired)],
            depth=[t.depth for t in ts],
            capacity=[t.capacity for t in ts],
            handling=([n for t in ts for n in t.handling], [t.handling_sum for t in ts]),
            waiting=([n for t in ts for n in t.waiting], [t.waiting_sum for t in ts]),
            escalations=[
                (row, t.escalations) for row, t in zip(labels, ts, strict=True) if t.supervisor
            ],
            actors=[
                (((subject, key), ("state", st.value)), states.get((key, st), 0))
                for key in totals
                for st in ActorState
            ],
        )

    # -- building families ----------------------------------------------------------------

    def _actor_families(self, series: _Series) -> Iterator[Family]:
        """The per-actor (or per-group) families, in catalog order."""
        labels = series.labels

        def simple(spec: c.MetricSpec, values: Iterable[float]) -> Family:
            m = Family(spec)
            m.labels, m.values = labels, list(values)
            return m

        def histogram(spec: c.MetricSpec, columns: _Histograms) -> Family:
            m = Family(spec, LE)
            m.labels, m.values, m.sums = labels, list(columns[0]), list(columns[1])
            return m

        yield simple(c.RECEIVED, series.values["received"])
        m = Family(c.PROCESSED)
        m.labels, m.values = series.outcome_labels, list(series.outcomes)
        yield m
        yield simple(c.DROPPED, series.values["dropped"])
        yield histogram(c.HANDLING, series.handling)
        yield histogram(c.WAITING, series.waiting)
        yield simple(c.DEPTH, series.depth)
        yield simple(c.CAPACITY, series.capacity)
        m = Family(c.ACTORS)
        m.set_rows(series.actors)
        yield m
        yield simple(c.RESTARTS, series.values["restarts"])
        m = Family(c.ESCALATIONS)
        m.set_rows(series.escalations)
        yield m
        yield simple(c.ASKS_TIMED_OUT, series.values["asks_timed_out"])

    def _system_families(self) -> Iterator[Family]:
        """Dead letters by reason and bus publishes by topic."""
        m = Family(c.DEAD_LETTERS)
        dead = {str(reason): n for reason, n in dict(self.system.dead_letters.totals).items()}
        m.set_rows(
            ((("reason", reason),), dead.get(reason, 0))
            for reason in (*_REASONS, *sorted(set(dead) - set(_REASONS)))
        )
        yield m
        m = Family(c.PUBLISHES)
        published: dict[str, int] = {}
        for topic, n in dict(self.system.bus.topics.published).items():
            key = self._topic_guard(str(topic))
            published[key] = published.get(key, 0) + n
        m.set_rows(((("topic", topic),), n) for topic, n in published.items())
        yield m


#: (bucket counts, ``NB`` per series one after the other; one sum per series)
_Histograms = tuple[Iterable[int], Iterable[float]]


@dataclasses.dataclass(slots=True)
class _Series:
    """One scrape's per-actor (or per-group) values, each aligned with ``labels``."""

    labels: list[Labels]
    #: Four rows per series: outcome ok, failed, cancelled, expired (``outcomes`` likewise).
    outcome_labels: list[Labels]
    #: received, dropped, restarts, asks_timed_out
    values: Mapping[str, Iterable[float]]
    outcomes: Iterable[float]
    depth: Iterable[float]
    capacity: Iterable[float]
    #: (bucket counts, sum) per series
    handling: _Histograms
    waiting: _Histograms
    #: rows of supervisors only
    escalations: list[tuple[Labels, float]]
    #: rows of ``letta_actors_actors``
    actors: list[tuple[Labels, float]]
