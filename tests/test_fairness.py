"""Fairness: a send is a cancellation point, and a loop of sends lets other tasks run."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from letta_actors import Actor, ActorSystem, MailboxConfig
from letta_actors.bus import YIELD_EVERY

from .helpers import Recorder

pytestmark = pytest.mark.anyio

SENDS = 20_000


class Sink(Actor):
    async def receive(self, message: Any) -> Any:
        return None


async def test_a_loop_of_tells_gives_other_tasks_turns() -> None:
    turns = 0

    async def other_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await anyio.lowlevel.checkpoint()

    async with ActorSystem() as system, anyio.create_task_group() as tg:
        ref = await system.spawn(Sink, name="sink", mailbox=MailboxConfig(capacity=SENDS))
        tg.start_soon(other_task)
        await anyio.lowlevel.checkpoint()
        before = turns
        for i in range(SENDS):
            await ref.tell(i)  # room for every message: no tell has to wait
        assert turns - before >= SENDS // YIELD_EVERY // 2
        tg.cancel_scope.cancel()


@pytest.mark.parametrize("overflow", ["drop_newest", "drop_oldest"])
async def test_a_fast_consumer_keeps_up_under_a_drop_policy(overflow: str) -> None:
    async with ActorSystem() as system:
        mailbox = MailboxConfig(capacity=4 * YIELD_EVERY, overflow=overflow)  # type: ignore[arg-type]
        ref = await system.spawn(Sink, name="sink", mailbox=mailbox)
        for i in range(SENDS):
            await ref.tell(i)
        cell = system.cell("sink")
        assert cell is not None
        assert cell.stats.dropped == 0
        assert len(system.dead_letters) == 0


async def test_tell_is_a_cancellation_point_and_sends_nothing_when_cancelled() -> None:
    async with ActorSystem() as system:
        recorder = Recorder()
        ref = await system.spawn(lambda: recorder, name="r")
        with anyio.CancelScope() as scope:
            scope.cancel()
            await ref.tell("never sent")
            pytest.fail("tell did not check for cancellation")
        assert scope.cancelled_caught
        with anyio.CancelScope() as scope:
            scope.cancel()
            await system.bus.publish("nobody-listens", "never sent")
        assert scope.cancelled_caught
        assert await ref.ask("log") == []


async def test_a_loop_of_tells_ends_at_its_deadline() -> None:
    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            return None

    async with ActorSystem() as system:
        mailbox = MailboxConfig(capacity=10, overflow="drop_newest")  # never waits for room
        ref = await system.spawn(Slow, name="s", mailbox=mailbox)
        sent = 0
        with anyio.move_on_after(0.01) as scope:
            for _ in range(10_000_000):
                await ref.tell(sent)
                sent += 1
        assert scope.cancelled_caught
        assert sent < 10_000_000
