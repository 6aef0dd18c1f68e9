"""The registry as a scrape reads it: the actors' cells in columns, grouped by label value.

Reading 10,000 actors one by one in Python (an ``ActorInfo`` each, then their counters) costs
tens of milliseconds of event loop per scrape. An :class:`Index` keeps the lists a scrape
needs (counters, histograms, mailboxes, cells; per label value with group labels), so the scrape
reads them with C-level loops (``map``, ``zip``, ``sum``). It is rebuilt only when the registry
changed since the last scrape: an actor came or went, or a cell got fresh counters (a stopped
name started anew), which one identity comparison of the counter objects detects.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING

from ..actors._stats import ActorStats, Histogram

if TYPE_CHECKING:
    from ..actors._cell import ActorCell
    from ..actors._mailbox import Mailbox

STATS = attrgetter("stats")
_MAILBOX = attrgetter("mailbox")
_HANDLING = attrgetter("handling")
_WAITING = attrgetter("waiting")
_COUNTS = attrgetter("counts")

#: Whether a cell runs a supervisor; ``None`` while that is not known yet (no instance).
IsSupervisor = Callable[["ActorCell"], "bool | None"]


class Columns:
    """Cells with the objects a scrape reads from them, in the same order."""

    __slots__ = ("cells", "handling", "handling_counts", "mailboxes", "stats", "supervisor",
                 "undecided", "waiting", "waiting_counts")  # fmt: skip

    def __init__(self, cells: list[ActorCell], stats: list[ActorStats]) -> None:
        self.cells = cells
        self.stats = stats
        self.mailboxes: list[Mailbox] = list(map(_MAILBOX, cells))
        self.handling: list[Histogram] = list(map(_HANDLING, stats))
        self.waiting: list[Histogram] = list(map(_WAITING, stats))
        # a histogram keeps its bucket list for life: read in place by every scrape
        self.handling_counts: list[list[int]] = list(map(_COUNTS, self.handling))
        self.waiting_counts: list[list[int]] = list(map(_COUNTS, self.waiting))
        #: Positions of the cells known to run a supervisor, and of those not known yet.
        self.supervisor: list[int] = []
        self.undecided: list[int] = []

    def classify(self, is_supervisor: IsSupervisor) -> None:
        """Sort the cells into supervisors, others and not yet known."""
        for i, cell in enumerate(self.cells):
            known = is_supervisor(cell)
            if known is None:
                self.undecided.append(i)
            elif known:
                self.supervisor.append(i)

    def supervisors(self, is_supervisor: IsSupervisor) -> list[int]:
        """Positions of the supervisors now: the known ones, and those decided since.

        A cell still without an instance counts as a supervisor if it has escalated.
        """
        if not self.undecided:
            return self.supervisor
        now = []
        for i in self.undecided:
            known = is_supervisor(self.cells[i])
            if known if known is not None else self.stats[i].escalations > 0:
                now.append(i)
        return sorted(self.supervisor + now)


class Index:
    """The registry at one scrape: all cells in registration order, and per label value.

    ``keys[i]`` is the label value of ``all.cells[i]``; ``members`` maps each label value to
    its cells, in order of first appearance (only with group labels; ``None`` per actor).
    """

    __slots__ = ("all", "keys", "members")

    def __init__(
        self,
        cells: list[ActorCell],
        stats: list[ActorStats],
        keys: list[str],
        is_supervisor: IsSupervisor,
        *,
        grouped: bool,
    ) -> None:
        self.all = Columns(cells, stats)
        self.keys = keys
        self.members: dict[str, Columns] | None = None
        if grouped:
            positions: dict[str, list[int]] = {}
            for i, key in enumerate(keys):
                positions.setdefault(key, []).append(i)
            self.members = {
                key: Columns([cells[i] for i in at], [stats[i] for i in at])
                for key, at in positions.items()
            }
            for columns in self.members.values():
                columns.classify(is_supervisor)
        else:
            self.all.classify(is_supervisor)

    def current(self, stats: list[ActorStats]) -> bool:
        """Whether the registry still holds exactly these counter objects, in this order."""
        return stats == self.all.stats
