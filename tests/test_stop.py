"""Stopping: drain within a deadline, then cancel; nothing silently lost."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from letta_actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    DeadLetterReason,
)

from .helpers import Gate, Recorder, gate_parts

pytestmark = pytest.mark.anyio


async def test_stop_drains_what_is_queued() -> None:
    recorder = Recorder()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: recorder, name="r")
        for i in range(100):
            await ref.tell(i)
        await ref.stop()
        assert recorder.log == list(range(100))
        assert not ref.alive
        assert system.cell("r") is None
        await ref.tell("late")
        [letter] = system.dead_letters
        assert letter.reason is DeadLetterReason.UNKNOWN_RECIPIENT


async def test_stop_deadline_cancels_and_dead_letters_the_rest() -> None:
    gate, entered, seen = gate_parts()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Gate(gate, entered, seen), name="g")
        await ref.tell("wait")
        await entered.wait()
        await ref.tell("queued-1")
        await ref.tell("queued-2")
        await ref.stop(timeout=0.05)  # "wait" never finishes: cancelled at the deadline
        assert seen == []
        cancelled = system.dead_letters.by_reason(DeadLetterReason.CANCELLED)
        not_processed = system.dead_letters.by_reason(DeadLetterReason.NOT_PROCESSED)
        assert [d.envelope.payload for d in cancelled] == ["wait"]
        assert [d.envelope.payload for d in not_processed] == ["queued-1", "queued-2"]


async def test_queued_asks_fail_when_the_actor_is_stopped_for_good() -> None:
    gate, entered, seen = gate_parts()
    errors: list[BaseException] = []
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Gate(gate, entered, seen), name="g")
        await ref.tell("wait")
        await entered.wait()

        async def ask() -> None:
            try:
                await ref.ask("q", timeout=10)
            except ActorStopped as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            await ref.stop(timeout=0.05)
        assert len(errors) == 1
        assert "stopped before replying" in str(errors[0])


async def test_leaving_the_system_drains_and_stops_in_reverse_start_order() -> None:
    order: list[str] = []
    handled: list[str] = []

    class Tracked(Actor):
        async def receive(self, message: Any) -> Any:
            handled.append(f"{self.name}:{message}")

        async def on_stop(self) -> None:
            order.append(self.name)

    async with ActorSystem() as system:
        for name in ("first", "second", "third"):
            ref = await system.spawn(Tracked, name=name)
            await ref.tell("m")
    assert order == ["third", "second", "first"]
    assert sorted(handled) == ["first:m", "second:m", "third:m"]
    assert len(system.dead_letters) == 0


async def test_leaving_the_system_cancels_after_shutdown_timeout() -> None:
    gate, entered, seen = gate_parts()
    async with ActorSystem(shutdown_timeout=0.1) as system:
        ref = await system.spawn(lambda: Gate(gate, entered, seen), name="g", shutdown=60)
        await ref.tell("wait")
        await entered.wait()
        await ref.tell("never")
    reasons = sorted(d.reason for d in system.dead_letters)
    assert reasons == [DeadLetterReason.CANCELLED, DeadLetterReason.NOT_PROCESSED]


async def test_an_actor_can_stop_itself() -> None:
    class Quitter(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "quit":
                await self.ref.stop()
            return message

    async with ActorSystem() as system:
        ref = await system.spawn(Quitter, name="q")
        await ref.tell("quit")
        watcher_done = anyio.Event()

        class Watcher(Actor):
            async def receive(self, message: Any) -> Any:
                watcher_done.set()

        await system.spawn(Watcher, name="w")
        system.watch("w", "q")
        await watcher_done.wait()
        assert system.cell("q") is None


async def test_stop_self_after_queue_with_actor_stop() -> None:
    class Finisher(Actor):
        def __init__(self, log: list[Any]) -> None:
            self.log = log

        async def receive(self, message: Any) -> Any:
            self.log.append(message)
            if message == "last":
                self.stop()

    log: list[Any] = []
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Finisher(log), name="f", restart="transient")
        done = anyio.Event()

        class Watcher(Actor):
            async def receive(self, message: Any) -> Any:
                done.set()

        await system.spawn(Watcher, name="w")
        system.watch("w", "f")
        await ref.tell("last")
        await done.wait()
        assert log == ["last"]
        assert not ref.alive


async def test_exception_in_the_block_propagates_unwrapped_after_a_graceful_stop() -> None:
    recorder = Recorder()
    with pytest.raises(KeyError):
        async with ActorSystem() as system:
            ref = await system.spawn(lambda: recorder, name="r")
            await ref.tell(1)
            raise KeyError("user error")
    assert recorder.log == [1]
