"""A holder paused past its lease finds out on resume and handles nothing more.

Node A runs on its own asyncio loop in a thread; the test freezes that whole loop (a callback
blocks on a ``threading.Event``: what SIGSTOP or a long GC pause does to a node) while node B,
on the test's loop, waits for the lease to expire, takes it and handles messages. A message
reaches A while it is frozen. On resume A must refuse it: its lease check counts the pause.
Both nodes record their handling intervals; none may overlap.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import anyio
import pytest

from letta_actors.cluster import ClusterConnection, LeaseLoss, Leases, LocalNatsServer

from .helpers import DEADLINE, SHORT, acquire_when_free, settings

pytestmark = pytest.mark.anyio

ACTOR = "specialist"
Interval = tuple[float, float]


class NodeA:
    """Node A's loop in a thread: holds the lease, renews it, handles what it is sent."""

    def __init__(self, server: LocalNatsServer) -> None:
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None
        self.inbox: asyncio.Queue[str] | None = None
        self.intervals: list[Interval] = []
        self.refused: list[str] = []
        self.losses: list[LeaseLoss] = []
        self.holding = threading.Event()
        self.handled = threading.Event()
        self.refused_one = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._main, daemon=True, name="node-a")

    def call(self, fn: Callable[[], object]) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(fn)

    def send(self, message: str) -> None:
        assert self.inbox is not None
        inbox = self.inbox
        self.call(lambda: inbox.put_nowait(message))

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
            self.holding.set()
            self.refused_one.set()

    async def _run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.inbox = asyncio.Queue()
        s = settings(self.server, "a", SHORT)
        async with await ClusterConnection.open(s) as conn:
            leases = Leases(conn, bucket="pause", holder="a", settings=s.leases)
            leases.on_lost = self.losses.append
            await leases.open()
            assert await leases.acquire(ACTOR)
            renewing = asyncio.create_task(leases.run())
            self.holding.set()
            while True:
                message = await self.inbox.get()
                if message == "stop":
                    break
                if not leases.holds(ACTOR):  # checked first, before any handling
                    self.refused.append(message)
                    self.refused_one.set()
                    continue
                start = time.monotonic()
                self.intervals.append((start, time.monotonic()))  # the handling itself
                self.handled.set()
            renewing.cancel()


async def wait(event: threading.Event) -> None:
    """Wait for a thread's event; cancellable (by the test's deadline)."""
    await anyio.to_thread.run_sync(event.wait, abandon_on_cancel=True)


def overlaps(a: list[Interval], b: list[Interval]) -> list[tuple[Interval, Interval]]:
    return [(x, y) for x in a for y in b if x[0] <= y[1] and y[0] <= x[1]]


async def test_a_paused_holder_drops_the_lease_on_resume_before_handling(
    nats_server: LocalNatsServer,
) -> None:
    a = NodeA(nats_server)
    a.thread.start()
    resume = threading.Event()
    try:
        with anyio.fail_after(DEADLINE):
            await wait(a.holding)
            assert not a.errors, a.errors
            a.send("before the pause")
            await wait(a.handled)

            a.call(resume.wait)  # A's whole loop stops here, renewals and all
            a.send("sent during the pause")

            s = settings(nats_server, "b", SHORT)
            async with await ClusterConnection.open(s) as conn:
                b = Leases(conn, bucket="pause", holder="b", settings=s.leases)
                await b.open()
                await acquire_when_free(b, ACTOR)
                b_intervals: list[Interval] = []
                for _ in range(3):
                    assert b.holds(ACTOR)
                    start = time.monotonic()
                    b_intervals.append((start, time.monotonic()))

                resume.set()
                await wait(a.refused_one)
                a.send("after the pause")
                a.send("stop")
                await anyio.to_thread.run_sync(a.thread.join, abandon_on_cancel=True)
                assert b.holds(ACTOR)
    finally:
        resume.set()
        if a.loop is not None and a.thread.is_alive():
            a.send("stop")
        a.thread.join(DEADLINE)
    assert not a.errors, a.errors
    assert len(a.intervals) == 1
    assert a.refused == ["sent during the pause", "after the pause"]
    assert [(x.name, x.reason) for x in a.losses] == [(ACTOR, "expired")]
    assert overlaps(a.intervals, b_intervals) == []
