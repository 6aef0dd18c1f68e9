"""A snapshot of one actor, for listings, health reports and the HTTP API.

It is what other layers read of an actor (patterns, the daemon, integrations): nothing outside
the actor layer reads a cell's instance or current message.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._actor import Actor
from ._cell import ActorCell, ActorState
from ._mailbox import Overflow
from ._stats import ActorStats


@dataclasses.dataclass(frozen=True, slots=True)
class ActorInfo:
    """What an actor is doing: its state, mailbox, supervisor and counters (live object).

    - ``is_supervisor``: whether it supervises children; ``None`` while no instance runs.
    - ``current``: the payload of the message it is handling, or ``None``.
    - ``description``: its instance's ``description`` attribute when that is a non-empty
      string, else ``None``.
    - ``actor``: the running instance, or ``None``; for reading (e.g. an integration's
      ``isinstance`` check), never for calling its handlers.
    """

    name: str
    state: ActorState
    supervisor: str | None
    actor_class: str | None
    mailbox_depth: int
    mailbox_capacity: int
    overflow: Overflow
    stats: ActorStats
    is_supervisor: bool | None = None
    current: Any = None
    description: str | None = None
    actor: Actor | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, cell: ActorCell) -> ActorInfo:
        instance = cell.instance
        envelope = cell.current
        description = getattr(instance, "description", None) if instance is not None else None
        return cls(
            name=cell.name,
            state=cell.state,
            supervisor=cell.parent,
            actor_class=cell.actor_class,
            mailbox_depth=len(cell.mailbox),
            mailbox_capacity=cell.mailbox.capacity,
            overflow=cell.mailbox.overflow,
            stats=cell.stats,
            is_supervisor=cell.is_supervisor,
            current=envelope.payload if envelope is not None else None,
            description=description if isinstance(description, str) and description else None,
            actor=instance,
        )
