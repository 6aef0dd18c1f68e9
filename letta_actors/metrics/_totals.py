"""Counters of one label value (an actor, or a group of actors), as a scrape exports them."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

from ..actors import BUCKETS, ActorStats

if TYPE_CHECKING:
    from ._index import Members

NB = len(BUCKETS) + 1

#: (attribute of :class:`Totals`, attribute of :class:`ActorStats`) of the plain counters.
COUNTERS: tuple[tuple[str, str], ...] = (
    ("received", "received"),
    ("ok", "processed"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
    ("expired", "expired"),
    ("dropped", "dropped"),
    ("asks_timed_out", "asks_timed_out"),
    ("restarts", "restarts"),
    ("escalations", "escalations"),
)
_READ = tuple((name, attrgetter(stat)) for name, stat in COUNTERS)
_SUM = attrgetter("sum")


class Totals:
    """Counters of one label value: sums of the members' counters, histograms, mailboxes."""

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
        self.handling = [0] * NB
        self.waiting = [0] * NB
        self.handling_sum = self.waiting_sum = 0.0
        self.supervisor = False

    def add_members(self, members: Members) -> None:
        """Add the sums over ``members``' counters and histograms, read with C-level loops.

        The same values as :meth:`add` of each member in turn (floats summed in the same order).
        """
        stats = members.stats.values()
        for name, read in _READ:
            setattr(self, name, getattr(self, name) + sum(map(read, stats)))
        handling = members.handling_buckets.read(members.handling_counts)
        waiting = members.waiting_buckets.read(members.waiting_counts)
        self.handling = [a + b for a, b in zip(self.handling, handling, strict=True)]
        self.waiting = [a + b for a, b in zip(self.waiting, waiting, strict=True)]
        self.handling_sum = sum(map(_SUM, members.handling.values()), self.handling_sum)
        self.waiting_sum = sum(map(_SUM, members.waiting.values()), self.waiting_sum)

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

    def add_totals(self, t: Totals, sign: int = 1) -> None:
        for name in (*(name for name, _ in COUNTERS), "handling_sum", "waiting_sum"):
            setattr(self, name, getattr(self, name) + sign * getattr(t, name))
        self.handling = [a + sign * b for a, b in zip(self.handling, t.handling, strict=True)]
        self.waiting = [a + sign * b for a, b in zip(self.waiting, t.waiting, strict=True)]
        self.supervisor = self.supervisor or t.supervisor
