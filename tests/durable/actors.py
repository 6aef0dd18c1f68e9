"""A plain-Python actor the durable daemon test declares in its team file."""

from __future__ import annotations

from typing import Any

import anyio

from letta_actors import Actor


class Journal(Actor):
    """Records what it handles; answers ``"log"`` with the list. With ``blocking``, handling
    ``"block"`` never ends (the messages after it stay queued)."""

    def __init__(self, blocking: bool = False) -> None:
        self.blocking = blocking
        self.log: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "log":
            return list(self.log)
        self.log.append(message)
        if message == "block" and self.blocking:
            await anyio.sleep_forever()
        return message
