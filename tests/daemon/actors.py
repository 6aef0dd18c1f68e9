"""Plain-Python actors the daemon tests declare in their team files (``kind = "python"``)."""

from __future__ import annotations

from typing import Any

import anyio

from letta_actors import Actor


class Echo(Actor):
    """Replies with the message (with ``prefix`` before a string)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    async def receive(self, message: Any) -> Any:
        return f"{self.prefix}{message}" if isinstance(message, str) else message


class Slow(Actor):
    """Replies with the message after ``delay`` seconds (work that takes time)."""

    def __init__(self, delay: float = 0.2) -> None:
        self.delay = delay

    async def receive(self, message: Any) -> Any:
        await anyio.sleep(self.delay)
        return message


class Sluggish(Slow):
    """:class:`Slow` whose class gives it only 0.2 s to drain its mailbox when stopped."""

    default_shutdown = 0.2


class Upper(Actor):
    """Replies with the text upper-cased."""

    async def receive(self, message: Any) -> Any:
        return str(message).upper()


class Failing(Actor):
    """Raises on every message."""

    restart_on_error = False

    async def receive(self, message: Any) -> Any:
        raise RuntimeError(f"cannot handle {message!r}")


class Crashing(Actor):
    """Crashes (is restarted by its supervisor) on ``"crash"``; echoes anything else."""

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("asked to crash")
        return message
