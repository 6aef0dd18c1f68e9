"""A typed front for talking to a supervisor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._messages import (
    ChildInfo,
    DeleteChild,
    RestartChild,
    StartChild,
    TerminateChild,
    WhichChildren,
)
from ._spec import ChildSpec

if TYPE_CHECKING:
    from ..actors import ActorRef


class SupervisorHandle:
    """Dynamic children of the supervisor behind ``ref`` (OTP's ``supervisor`` module calls).

    Every call is an ask to the supervisor, so it is ordered with the supervisor's own
    handling of exits; ``timeout`` bounds the wait (default: the system's ``ask_timeout``).
    """

    def __init__(self, ref: ActorRef, *, timeout: float | None = None) -> None:
        self.ref = ref
        self.timeout = timeout

    async def _ask(self, message: Any) -> Any:
        return await self.ref.ask(message, timeout=self.timeout)

    async def start_child(self, spec: ChildSpec) -> ActorRef:
        """Start a child; returns its ref once its ``on_start`` returned. Raises
        :class:`NameTaken` if a child of that name runs, :class:`ChildAlreadyPresent` if one is
        kept but not running (terminated, exited, or waiting for a restart), or the start's
        error (nothing of the spec is kept)."""
        ref: ActorRef = await self._ask(StartChild(spec))
        return ref

    async def terminate_child(self, name: str, *, timeout: float | None = None) -> None:
        """Stop a child, draining its mailbox within ``timeout``; its spec is kept."""
        await self._ask(TerminateChild(name, timeout))

    async def restart_child(self, name: str) -> None:
        """Start a terminated child again, or restart a running one (its mailbox is kept)."""
        await self._ask(RestartChild(name))

    async def delete_child(self, name: str) -> None:
        """Forget a terminated child's spec."""
        await self._ask(DeleteChild(name))

    async def stop_child(self, name: str, *, timeout: float | None = None) -> None:
        """Terminate and delete in one step."""
        await self._ask(TerminateChild(name, timeout, delete=True))

    async def which_children(self) -> list[ChildInfo]:
        """Children in start order with state, restart type and restart count."""
        children: list[ChildInfo] = await self._ask(WhichChildren())
        return children
