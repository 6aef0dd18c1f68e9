"""Durable mailboxes under an ActorSystem: stored before the tell returns, acknowledged once
handled or dead-lettered, handled by the next system on the same file when not handled here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from letta_actors import Actor, ActorSystem, DeadLetterReason, MailboxConfig, MailboxFull
from letta_actors.actors._mailbox import Mailbox
from letta_actors.durable import DurableMailbox, DurableStore

pytestmark = pytest.mark.anyio


class Order(BaseModel):
    item: str


class Collect(Actor):
    """Records every message; sets ``done`` once it has ``expected``; blocks for good on
    ``"block"`` (after recording it) when ``blocking``; raises on ``"bad"``."""

    restart_on_error = False

    def __init__(
        self, seen: list[Any], done: anyio.Event, expected: int, blocking: bool = False
    ) -> None:
        self.seen, self.done, self.expected, self.blocking = seen, done, expected, blocking

    async def receive(self, message: Any) -> Any:
        if message == "sync":
            return list(self.seen)
        self.seen.append(message)
        if len(self.seen) >= self.expected:
            self.done.set()
        if message == "block" and self.blocking:
            await anyio.sleep_forever()
        if message == "bad":
            raise ValueError("bad message")
        return message


def collector(expected: int, blocking: bool = False) -> tuple[Any, list[Any], anyio.Event]:
    seen: list[Any] = []
    done = anyio.Event()
    return (lambda: Collect(seen, done, expected, blocking)), seen, done


async def stored(path: Path) -> list[tuple[str, Any]]:
    async with DurableStore(path, models=[Order]) as store:
        return [(e.recipient, e.payload) for _, e in await store.pending()]


async def test_what_one_system_left_the_next_handles_first_in_order(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    first, seen, busy = collector(1, blocking=True)
    async with DurableStore(path) as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            ref = await system.spawn(first, name="worker", shutdown=0.05)
            assert isinstance(system.cell("worker").mailbox, DurableMailbox)  # type: ignore[union-attr]
            for message in ("block", 1, {"n": 2}, [3]):
                await ref.tell(message)
            await busy.wait()  # handling "block", the rest queued: then the system leaves
        assert [(d.envelope.payload, d.reason) for d in system.dead_letters] == [
            ("block", DeadLetterReason.CANCELLED),
            (1, DeadLetterReason.NOT_PROCESSED),
            ({"n": 2}, DeadLetterReason.NOT_PROCESSED),
            ([3], DeadLetterReason.NOT_PROCESSED),
        ]  # dead letters of this run; the store keeps them for the next
    assert seen == ["block"]
    second, again, done = collector(5)
    async with DurableStore(path) as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            ref = await system.spawn(second, name="worker")
            await ref.tell("new")  # after what was stored
            await done.wait()
    # "block" was being handled when its system left: handled again (at-least-once).
    assert again == ["block", 1, {"n": 2}, [3], "new"]
    assert await stored(path) == []


async def test_handled_and_dead_lettered_tells_are_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    factory, _, _ = collector(99)
    async with DurableStore(path) as store:
        system = ActorSystem()
        await store.attach(system, {"worker"})
        async with system:
            ref = await system.spawn(factory, name="worker")
            for message in ("one", "bad", "two"):
                await ref.tell(message)
            assert await ref.ask("sync") == ["one", "bad", "two"]
            assert await store.pending("worker") == []  # acked: dead-lettered "bad" too
        assert [(d.envelope.payload, d.reason) for d in system.dead_letters] == [
            ("bad", DeadLetterReason.HANDLER_FAILED)
        ]
    assert await stored(path) == []


async def test_a_crash_redelivered_then_dead_lettered_is_acknowledged_once(tmp_path: Path) -> None:
    class Crash(Actor):
        def __init__(self, seen: list[Any]) -> None:
            self.seen = seen

        async def receive(self, message: Any) -> Any:
            self.seen.append(message)
            if message == "crash":
                raise ValueError("crash")
            return message

    path = tmp_path / "team.db"
    seen: list[Any] = []
    async with DurableStore(path) as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            ref = await system.spawn(lambda: Crash(seen), name="worker", max_attempts=2)
            await ref.tell("crash")
            await ref.tell("after")
            assert await ref.ask("sync") == "sync"
        assert seen == ["crash", "crash", "after", "sync"]  # restarted, delivered again
        assert [d.reason for d in system.dead_letters] == [DeadLetterReason.HANDLER_FAILED]
    assert await stored(path) == []


async def test_a_payload_that_cannot_be_stored_is_refused_at_the_tell(tmp_path: Path) -> None:
    factory, _, _ = collector(99)
    async with DurableStore(tmp_path / "team.db") as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            ref = await system.spawn(factory, name="worker")
            with pytest.raises(TypeError, match="message to 'worker' cannot be stored"):
                await ref.tell(object())
            with pytest.raises(TypeError, match="has type tuple"):
                await system.bus.tell("worker", ("a", "tuple"))
            with pytest.raises(TypeError, match="Order is not registered"):
                await ref.tell(Order(item="tea"))
            # Asks are not stored: any payload goes, in memory.
            marker = object()
            assert await ref.ask(marker) is marker
            assert await ref.ask("sync") == [marker]
            assert await store.pending() == []
        assert list(system.dead_letters) == []


async def test_registered_models_come_back_as_models(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    first, _, busy = collector(1, blocking=True)
    async with DurableStore(path, models=[Order]) as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            ref = await system.spawn(first, name="worker", shutdown=0.05)
            await ref.tell("block")
            await busy.wait()
            await ref.tell(Order(item="tea"))
    assert await stored(path) == [("worker", "block"), ("worker", Order(item="tea"))]


async def test_other_actors_keep_plain_mailboxes(tmp_path: Path) -> None:
    factory, _, _ = collector(99)
    async with DurableStore(tmp_path / "team.db") as store:
        system = ActorSystem()
        await store.attach(system, lambda name: name.startswith("durable-"))
        async with system:
            plain = await system.spawn(factory, name="plain")
            durable = await system.spawn(collector(99)[0], name="durable-1")
            assert type(system.cell("plain").mailbox) is Mailbox  # type: ignore[union-attr]
            assert type(system.cell("root").mailbox) is Mailbox  # type: ignore[union-attr]
            assert isinstance(system.cell("durable-1").mailbox, DurableMailbox)  # type: ignore[union-attr]
            marker = object()
            await plain.tell(marker)  # in memory: anything goes
            assert await plain.ask("sync") == [marker]
            await durable.tell("kept")
            assert await durable.ask("sync") == ["kept"]


async def test_an_actor_started_again_gets_what_it_left(tmp_path: Path) -> None:
    first, seen, busy = collector(1, blocking=True)
    async with DurableStore(tmp_path / "team.db") as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            ref = await system.spawn(first, name="worker", shutdown=0.05)
            for message in ("block", "a", "b"):
                await ref.tell(message)
            await busy.wait()
            await system.stop("worker")
            second, again, done = collector(4)
            ref = await system.spawn(second, name="worker")
            await ref.tell("c")
            await done.wait()
            assert again == ["block", "a", "b", "c"]
    assert seen == ["block"]


async def test_overflow_policies_store_only_what_is_queued(tmp_path: Path) -> None:
    async with DurableStore(tmp_path / "team.db") as store:
        system = ActorSystem()
        await store.attach(system, ["oldest", "newest", "fail"])
        async with system:
            refs = {}
            for name in ("oldest", "newest", "fail"):
                factory, _, busy = collector(1, blocking=True)
                overflow = {"oldest": "drop_oldest", "newest": "drop_newest"}.get(name, name)
                refs[name] = await system.spawn(
                    factory, name=name, shutdown=0.05,
                    mailbox=MailboxConfig(capacity=1, overflow=overflow),  # type: ignore[arg-type]
                )  # fmt: skip
                await refs[name].tell("block")
                await busy.wait()
                await refs[name].tell("first")
            await refs["oldest"].tell("second")  # drops "first"
            await refs["newest"].tell("second")  # dropped itself
            with pytest.raises(MailboxFull):
                await refs["fail"].tell("second")
            pending = {(e.recipient, e.payload) for _, e in await store.pending()}
            assert pending == {("oldest", "block"), ("oldest", "second"),
                               ("newest", "block"), ("newest", "first"),
                               ("fail", "block"), ("fail", "first")}  # fmt: skip
            drops = [(d.envelope.recipient, d.envelope.payload, d.reason)
                     for d in system.dead_letters]  # fmt: skip
            assert drops == [("oldest", "first", DeadLetterReason.DROPPED_OLDEST),
                             ("newest", "second", DeadLetterReason.DROPPED_NEWEST)]  # fmt: skip


async def test_a_full_mailbox_blocks_the_sender_before_storing(tmp_path: Path) -> None:
    seen: list[Any] = []
    gate = anyio.Event()
    entered = anyio.Event()

    class Slow(Collect):
        async def receive(self, message: Any) -> Any:
            if message == "hold":
                entered.set()
                await gate.wait()
            return await super().receive(message)

    async with DurableStore(tmp_path / "team.db") as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            done = anyio.Event()
            ref = await system.spawn(
                lambda: Slow(seen, done, 4), name="worker", mailbox=MailboxConfig(capacity=1)
            )
            await ref.tell("hold")
            await entered.wait()
            await ref.tell("one")  # fills the mailbox
            sent = anyio.Event()

            async def third() -> None:
                await ref.tell("two")
                sent.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(third)
                await anyio.wait_all_tasks_blocked()
                assert not sent.is_set()
                assert [e.payload for _, e in await store.pending()] == ["hold", "one"]
                gate.set()
            await ref.tell("three")
            await done.wait()
            assert seen == ["hold", "one", "two", "three"]


async def test_attach_is_refused_when_it_cannot_apply(tmp_path: Path) -> None:
    async with DurableStore(tmp_path / "team.db") as store:
        async with ActorSystem() as running:
            with pytest.raises(RuntimeError, match="before entering the system"):
                await store.attach(running, ["a"])
        system = ActorSystem()
        with pytest.raises(TypeError, match="collection of names"):
            await store.attach(system, "worker")
        await store.attach(system, ["a"])
        with pytest.raises(RuntimeError, match="attached to a system already"):
            await store.attach(ActorSystem(), ["a"])


async def test_a_message_cut_short_by_a_sibling_restart_goes_to_the_next_instance(
    tmp_path: Path,
) -> None:
    seen: list[Any] = []
    instances: list[int] = []
    busy = anyio.Event()
    finished = anyio.Event()

    class Worker(Actor):
        def __init__(self) -> None:
            instances.append(1)
            self.first = len(instances) == 1

        async def receive(self, message: Any) -> Any:
            seen.append(message)
            if message == "block" and self.first:
                busy.set()
                await anyio.sleep_forever()  # until the restart cancels it
            if message == "next":
                finished.set()

    class Crasher(Actor):
        async def receive(self, message: Any) -> Any:
            raise ValueError("crash")

    async with DurableStore(tmp_path / "team.db") as store:
        system = ActorSystem(strategy="one_for_all")
        await store.attach(system, ["worker"])
        async with system:
            worker = await system.spawn(Worker, name="worker", shutdown=0.05)
            crasher = await system.spawn(Crasher, name="crasher")
            await worker.tell("block")
            await worker.tell("next")
            await busy.wait()
            await crasher.tell("crash")  # one_for_all: the worker is restarted too
            await finished.wait()
            assert len(instances) == 2
            assert seen == ["block", "block", "next"]  # at-least-once: handled again
            assert await store.pending() == []
