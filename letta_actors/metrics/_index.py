"""The registry as a scrape reads it, followed from one scrape to the next.

Reading 10,000 actors one by one in Python (an ``ActorInfo`` each, then their counters) costs
tens of milliseconds of event loop per scrape. A :class:`Registry` keeps what a scrape needs in
containers the scrape reads with C-level loops (``map``, ``zip``, ``sum`` over lists and dict
values): the cells and their counters in registration order, and with group labels the members
of each group. Between two scrapes it applies only what changed: the actors that came or went,
and cells that got fresh counters (a stopped name started anew). One identity comparison of
the list of counter objects tells whether anything changed at all.

A group's members are kept in shards of at most :data:`CHUNK` actors, and the registration
order is read in slices of :data:`CHUNK`: an asynchronous scrape reads one shard or slice per
step and lets the event loop run between steps.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING

from ..actors import ActorStats, Histogram
from ._buckets import BucketSums

if TYPE_CHECKING:
    from ..actors import ActorCell, Mailbox

STATS = attrgetter("stats")

#: How many actors a scrape reads in one step (a shard of a group, a slice of the registry).
CHUNK = 500

#: Whether a cell runs a supervisor; ``None`` while that is not known yet (no instance).
IsSupervisor = Callable[["ActorCell"], "bool | None"]


def supervises(cell: ActorCell, is_supervisor: IsSupervisor) -> bool:
    """``is_supervisor(cell)``; a cell without an instance counts if it has escalated."""
    known = is_supervisor(cell)
    return known if known is not None else cell.stats.escalations > 0


class Members:
    """Up to :data:`CHUNK` live actors of one group, by ``id`` of their counters, in order of
    arrival (a group is a list of such shards).

    Each dict holds one object per member, so a scrape sums a group's counters with
    ``sum(map(..., members.stats.values()))``; its histograms' buckets are summed by
    :class:`~._buckets.BucketSums`.
    """

    __slots__ = (
        "cells",
        "handling",
        "handling_buckets",
        "handling_counts",
        "mailboxes",
        "stats",
        "supervisors",
        "undecided",
        "waiting",
        "waiting_buckets",
        "waiting_counts",
    )

    def __init__(self) -> None:
        self.cells: dict[int, ActorCell] = {}
        self.stats: dict[int, ActorStats] = {}
        self.mailboxes: dict[int, Mailbox] = {}
        self.handling: dict[int, Histogram] = {}
        self.waiting: dict[int, Histogram] = {}
        # a histogram keeps its bucket list for life: read in place by every scrape
        self.handling_counts: dict[int, list[int]] = {}
        self.waiting_counts: dict[int, list[int]] = {}
        #: The per-bucket sums of those lists, kept up to date scrape by scrape.
        self.handling_buckets = BucketSums()
        self.waiting_buckets = BucketSums()
        #: Members known to run a supervisor, and those not known yet (no instance).
        self.supervisors: dict[int, ActorCell] = {}
        self.undecided: dict[int, ActorCell] = {}

    def add(self, sid: int, cell: ActorCell, supervisor: bool | None) -> None:
        stats = cell.stats
        self.cells[sid] = cell
        self.stats[sid] = stats
        self.mailboxes[sid] = cell.mailbox
        self.handling[sid] = stats.handling
        self.waiting[sid] = stats.waiting
        self.handling_counts[sid] = stats.handling.counts
        self.waiting_counts[sid] = stats.waiting.counts
        self.handling_buckets.add(sid, stats.handling.counts)
        self.waiting_buckets.add(sid, stats.waiting.counts)
        if supervisor is None:
            self.undecided[sid] = cell
        elif supervisor:
            self.supervisors[sid] = cell

    def remove(self, sid: int) -> None:
        if sid in self.stats:
            self.handling_buckets.remove(sid)
            self.waiting_buckets.remove(sid)
        for column in (self.cells, self.stats, self.mailboxes, self.handling, self.waiting,
                       self.handling_counts, self.waiting_counts, self.supervisors,
                       self.undecided):  # fmt: skip
            column.pop(sid, None)

    def has_supervisor(self, is_supervisor: IsSupervisor) -> bool:
        """Whether a member runs a supervisor (members not known yet are asked again)."""
        for sid, cell in list(self.undecided.items()):
            known = is_supervisor(cell)
            if known is not None:
                del self.undecided[sid]
                if known:
                    self.supervisors[sid] = cell
        return bool(self.supervisors) or any(
            supervises(cell, is_supervisor) for cell in self.undecided.values()
        )


def _with_room(shards: list[Members]) -> Members:
    """The last shard if it has room, else the first that has, else a new one (so a group
    that loses and gains members never has more shards than its largest size needed)."""
    if shards and len(shards[-1].stats) < CHUNK:
        return shards[-1]
    shard = next((shard for shard in shards if len(shard.stats) < CHUNK), None)
    if shard is None:
        shard = Members()
        shards.append(shard)
    return shard


class Registry:
    """The system's cells as of the last :meth:`update`, and with group labels its groups.

    ``key_of(cell)`` is a cell's label value (its group, or its name); it is asked once per
    counters object. ``forget(sid)`` is called for the counters of each actor that went.
    """

    def __init__(
        self,
        key_of: Callable[[ActorCell], str],
        is_supervisor: IsSupervisor,
        forget: Callable[[int], None],
        *,
        grouped: bool,
    ) -> None:
        self._key_of = key_of
        self._is_supervisor = is_supervisor
        self._forget = forget
        self.grouped = grouped
        #: Registration order: the cells, their counters, ``id`` of those, label value of each.
        self.cells: list[ActorCell] = []
        self.stats: list[ActorStats] = []
        self.ids: list[int] = []
        self.keys: list[str] = []
        #: Label value by ``id`` of the counters.
        self.where: dict[int, str] = {}
        #: Grouped: the members of each label value (in shards), in order of first appearance.
        self.members: dict[str, list[Members]] = {}
        self._shard_of: dict[int, Members] = {}

    def update(self, cells: list[ActorCell]) -> bool:
        """Follow the registry to ``cells``; False if nothing changed since the last time."""
        stats = list(map(STATS, cells))
        if stats == self.stats:  # the same counter objects, in the same order
            self.cells = cells
            return False
        ids = list(map(id, stats))
        now = dict(zip(ids, cells, strict=True))
        where, members = self.where, self.members
        for sid in where.keys() - now.keys():
            key = where.pop(sid)
            self._forget(sid)
            if self.grouped:
                shard = self._shard_of.pop(sid)
                shard.remove(sid)
                if not shard.stats:
                    shards = members[key]
                    shards.remove(shard)
                    if not shards:
                        del members[key]
        new = now.keys() - where.keys()
        for sid in [sid for sid in ids if sid in new]:  # in registration order
            cell = now[sid]
            key = where[sid] = self._key_of(cell)
            if self.grouped:
                shard = self._shard_of[sid] = _with_room(members.setdefault(key, []))
                shard.add(sid, cell, self._is_supervisor(cell))
        self.cells, self.stats, self.ids = cells, stats, ids
        self.keys = list(map(where.__getitem__, ids))
        if self.grouped:  # groups in order of first appearance in the registry
            self.members = {key: members[key] for key in dict.fromkeys(self.keys)}
        return True
