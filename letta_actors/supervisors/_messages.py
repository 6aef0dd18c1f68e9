"""Messages a supervisor understands, and what it reports.

:class:`Terminated` (what a watcher receives) lives in the actor layer, which sends it; it is
re-exported here, where it has always been importable from.
"""

from __future__ import annotations

import dataclasses

from ..actors import ActorCell, ActorState, Terminated
from ._spec import ChildSpec, RestartType

__all__ = [
    "ChildExit",
    "ChildInfo",
    "DeleteChild",
    "RestartChild",
    "RestartDue",
    "StartChild",
    "TerminateChild",
    "Terminated",
    "WhichChildren",
]


@dataclasses.dataclass(frozen=True, slots=True)
class StartChild:
    """Add ``spec`` and start it; the reply is its ref. Raises :class:`NameTaken` (a child of
    that name runs), :class:`ChildAlreadyPresent` (a child of that name is kept but not
    running; it stays as it is), or the error of the child's start (its spec is then not
    kept)."""

    spec: ChildSpec


@dataclasses.dataclass(frozen=True, slots=True)
class TerminateChild:
    """Stop a child (draining it within ``timeout``, default its shutdown budget) and keep its
    spec for a later :class:`RestartChild`; with ``delete`` the spec is removed too."""

    name: str
    timeout: float | None = None
    delete: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class RestartChild:
    """Start a terminated child again, or restart a running one (stop without draining, then
    start; its mailbox is kept)."""

    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class DeleteChild:
    """Remove the spec of a terminated child."""

    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class WhichChildren:
    """Reply: a list of :class:`ChildInfo`, in start order."""


@dataclasses.dataclass(frozen=True, slots=True)
class ChildInfo:
    """A child as its supervisor sees it."""

    name: str
    state: ActorState
    restart: RestartType
    restarts: int
    supervisor: bool
    last_error: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class ChildExit:
    """Internal: a child's instance ended (``error`` is None for a normal exit)."""

    name: str
    cell: ActorCell
    generation: int
    error: BaseException | None


@dataclasses.dataclass(frozen=True, slots=True)
class RestartDue:
    """Internal: the backoff before restarting ``names`` has passed."""

    names: tuple[str, ...]
