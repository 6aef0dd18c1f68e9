"""Child specifications: how a supervisor starts, restarts and stops one child."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..actors import Actor, MailboxConfig

#: ``permanent``: always restarted; ``transient``: restarted only after an abnormal exit
#: (an exception); ``temporary``: never restarted (removed when it exits, or when a sibling's
#: failure takes it down).
RestartType = Literal["permanent", "transient", "temporary"]

#: ``one_for_one``: restart the failed child only; ``one_for_all``: stop every child and restart
#: them all; ``rest_for_one``: stop and restart the failed child and every child started after it.
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]


class ChildSpec(BaseModel):
    """What a supervisor needs to run a child.

    - ``factory``: an :class:`Actor` subclass or a zero-argument callable returning an instance;
      called anew for every (re)start.
    - ``name``: the registered name (refs address it).
    - ``restart``: see :data:`RestartType` (default ``permanent``).
    - ``shutdown``: seconds a stopping child gets for its whole stop (its messages, then
      ``on_stop``), counted from the stop request; once spent, the child is cancelled
      whatever it is doing. ``None`` takes the actor class's ``default_shutdown`` (5 s;
      unbounded for supervisors, whose children have budgets of their own).
    - ``mailbox``: capacity and overflow policy.
    - ``max_attempts``: deliveries of a *told* message whose handling crashed the child before
      it goes to dead letters (1: no redelivery). Asks are never redelivered: the asker gets the
      exception at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    factory: Callable[[], Actor]
    name: str = Field(min_length=1, max_length=200)
    restart: RestartType = "permanent"
    shutdown: float | None = Field(default=None, gt=0)
    mailbox: MailboxConfig = MailboxConfig()
    max_attempts: int = Field(default=1, ge=1, le=100)


def check_children(children: Iterable[ChildSpec], strategy: Strategy) -> list[ChildSpec]:
    """``children`` as a list; ``ValueError`` for duplicate names or an unknown strategy."""
    specs = list(children)
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate child names: {', '.join(duplicates)}")
    if strategy not in ("one_for_one", "one_for_all", "rest_for_one"):
        raise ValueError(f"unknown strategy {strategy!r}")
    return specs
