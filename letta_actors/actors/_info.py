"""A snapshot of one actor, for listings, health reports and the HTTP API."""

from __future__ import annotations

import dataclasses

from ._cell import ActorCell, ActorState
from ._mailbox import Overflow
from ._stats import ActorStats


@dataclasses.dataclass(frozen=True, slots=True)
class ActorInfo:
    """What an actor is doing: its state, mailbox, supervisor and counters (live object)."""

    name: str
    state: ActorState
    supervisor: str | None
    actor_class: str | None
    mailbox_depth: int
    mailbox_capacity: int
    overflow: Overflow
    stats: ActorStats

    @classmethod
    def of(cls, cell: ActorCell) -> ActorInfo:
        return cls(
            name=cell.name,
            state=cell.state,
            supervisor=cell.parent,
            actor_class=cell.actor_class,
            mailbox_depth=len(cell.mailbox),
            mailbox_capacity=cell.mailbox.capacity,
            overflow=cell.mailbox.overflow,
            stats=cell.stats,
        )
