"""The letta_actors side of the benchmarks (imported lazily, so peers still run without it)."""

from __future__ import annotations

from typing import Any

from letta_actors import Actor, ActorSystem, MailboxConfig

__all__ = ["Actor", "ActorSystem", "Echo", "MailboxConfig"]


class Echo(Actor):
    """Does nothing but hand the message back (the reply to ``ask``)."""

    async def receive(self, message: Any) -> Any:
        return message
