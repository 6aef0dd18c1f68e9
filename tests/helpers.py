"""Small actors and helpers shared by the tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from letta_actors import Actor


class Echo(Actor):
    """Replies with the message."""

    async def receive(self, message: Any) -> Any:
        return message


class Recorder(Actor):
    """Records every message; replies with the list so far when asked ``"log"``."""

    def __init__(self) -> None:
        self.log: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "log":
            return list(self.log)
        self.log.append(message)
        return None


class Gate(Actor):
    """Blocks on ``gate`` while handling ``"wait"``; records what it handled into ``seen``."""

    def __init__(self, gate: anyio.Event, entered: anyio.Event, seen: list[Any]) -> None:
        self.gate = gate
        self.entered = entered
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        if message == "wait":
            self.entered.set()
            await self.gate.wait()
        self.seen.append(message)
        return message


class Boom(Exception):
    """The error test actors raise."""


def gate_parts() -> tuple[anyio.Event, anyio.Event, list[Any]]:
    """A fresh (gate, entered, seen) triple for :class:`Gate`."""
    return anyio.Event(), anyio.Event(), []


async def wait_until(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``check()`` (plain or async) until it returns something truthy and return it;
    ``AssertionError`` after ``timeout`` seconds. Only for state no event tells of (behind an
    HTTP API, in another process, a server-side expiry): wait on an event wherever there is one.
    """
    with anyio.move_on_after(timeout):
        delay = 0.001
        while True:
            value = check()
            if isinstance(value, Awaitable):
                value = await value
            if value:
                return value
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
