"""The actor whose task is running: lets refs and the bus know the sender without being told."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._cell import ActorCell

#: Set in each actor's task (and inherited by tasks it starts); ``None`` outside actors.
current_cell: ContextVar[ActorCell | None] = ContextVar("letta_actors_current_cell", default=None)
