"""Ask: replies, timeouts, late replies, errors, deadlock refusal."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import anyio
import pytest

from letta_actors import (
    Actor,
    ActorNotFound,
    ActorSystem,
    AskCycle,
    AskTimeout,
    DeadLetterReason,
    ReplySlot,
)

from .helpers import Boom, Gate, gate_parts

pytestmark = pytest.mark.anyio


async def test_ask_timeout_raises_a_clear_error_and_discards_the_late_reply() -> None:
    gate, entered, seen = gate_parts()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Gate(gate, entered, seen), name="slow")
        with pytest.raises(AskTimeout, match=r"'slow' did not reply within 0\.05 s"):
            await ref.ask("wait", timeout=0.05)
        gate.set()
        assert await ref.ask("next") == "next"
        assert seen == ["wait", "next"]
        assert system.cell("slow").stats.asks_timed_out == 1  # type: ignore[union-attr]


async def test_late_reply_slot_is_garbage_collected() -> None:
    slots: list[weakref.ref[ReplySlot]] = []

    class Holder(Actor):
        def __init__(self, gate: anyio.Event) -> None:
            self.gate = gate

        async def receive(self, message: Any) -> Any:
            assert self.envelope is not None and self.envelope.reply_to is not None
            slots.append(weakref.ref(self.envelope.reply_to))
            await self.gate.wait()
            return "late"

    gate = anyio.Event()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Holder(gate), name="h")
        with pytest.raises(AskTimeout):
            await ref.ask("q", timeout=0.05)
        gate.set()
        await ref.ask("sync")
        gc.collect()
        assert slots[0]() is None


async def test_an_ask_abandoned_before_handling_is_skipped() -> None:
    gate, entered, seen = gate_parts()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: Gate(gate, entered, seen), name="g")
        await ref.tell("wait")
        await entered.wait()
        with pytest.raises(AskTimeout):
            await ref.ask("stale", timeout=0.02)
        gate.set()
        await ref.ask("fresh")
        assert seen == ["wait", "fresh"]
        assert system.cell("g").stats.expired == 1  # type: ignore[union-attr]


async def test_cancel_abandoned_asks_cancels_the_handling() -> None:
    cancelled = anyio.Event()

    class Cancellable(Actor):
        cancel_abandoned_asks = True

        async def receive(self, message: Any) -> Any:
            if message == "long":
                try:
                    await anyio.sleep_forever()
                finally:
                    cancelled.set()
            return message

    async with ActorSystem() as system:
        ref = await system.spawn(Cancellable, name="c")
        with pytest.raises(AskTimeout):
            await ref.ask("long", timeout=0.05)
        await cancelled.wait()
        assert await ref.ask("after") == "after"
        assert system.cell("c").stats.cancelled == 1  # type: ignore[union-attr]


async def test_handler_exception_reaches_the_asker_with_the_actor_name() -> None:
    class Failing(Actor):
        async def receive(self, message: Any) -> Any:
            raise Boom(f"bad {message}")

    async with ActorSystem() as system:
        ref = await system.spawn(Failing, name="failing")
        with pytest.raises(Boom, match="bad 1") as info:
            await ref.ask(1)
        assert any("'failing'" in note for note in info.value.__notes__)
        assert not system.dead_letters.by_reason(DeadLetterReason.HANDLER_FAILED)


async def test_failed_tell_goes_to_dead_letters_with_the_error() -> None:
    class Failing(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "bad":
                raise Boom("broken")
            return message

    async with ActorSystem() as system:
        ref = await system.spawn(Failing, name="f")
        await ref.tell("bad")
        assert await ref.ask("ok") == "ok"
        [letter] = system.dead_letters.by_reason(DeadLetterReason.HANDLER_FAILED)
        assert letter.envelope.payload == "bad"
        assert isinstance(letter.error, Boom)
        assert letter.error_text == "Boom: broken"


async def test_resume_mode_keeps_the_instance_after_a_failure() -> None:
    class Counting(Actor):
        restart_on_error = False

        def __init__(self) -> None:
            self.count = 0

        async def receive(self, message: Any) -> Any:
            self.count += 1
            if message == "bad":
                raise Boom
            return self.count

    async with ActorSystem() as system:
        ref = await system.spawn(Counting, name="c")
        with pytest.raises(Boom):
            await ref.ask("bad")
        assert await ref.ask("ok") == 2  # same instance: state kept
        assert system.cell("c").stats.restarts == 0  # type: ignore[union-attr]


async def test_ask_unknown_actor_raises_actor_not_found() -> None:
    async with ActorSystem() as system:
        with pytest.raises(ActorNotFound, match="'ghost'"):
            await system.bus.ask("ghost", 1)


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
async def test_invalid_ask_timeout_is_refused(timeout: float) -> None:
    async with ActorSystem() as system:
        with pytest.raises(ValueError, match="timeout"):
            await system.bus.ask("root", 1, timeout=timeout)


async def test_asking_oneself_is_refused_as_a_deadlock() -> None:
    class SelfAsker(Actor):
        async def receive(self, message: Any) -> Any:
            return await self.ask(self.name, "again", timeout=5)

    async with ActorSystem() as system:
        ref = await system.spawn(SelfAsker, name="narcissus")
        with pytest.raises(AskCycle, match="narcissus -> narcissus"):
            await ref.ask("go")


async def test_ask_cycle_through_other_actors_is_refused_at_once() -> None:
    class Forwarder(Actor):
        def __init__(self, target: str) -> None:
            self.target = target

        async def receive(self, message: Any) -> Any:
            return await self.ask(self.target, message, timeout=5)

    async with ActorSystem() as system:
        await system.spawn(lambda: Forwarder("b"), name="a")
        await system.spawn(lambda: Forwarder("c"), name="b")
        await system.spawn(lambda: Forwarder("a"), name="c")
        with pytest.raises(AskCycle) as info:
            await system.bus.ask("a", "x", timeout=5)
        assert info.value.chain == ("a", "b", "c")


async def test_tell_does_not_form_a_chain() -> None:
    """A tells B; B asks A: A is not waiting on B, so this is not a cycle."""

    class A(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "start":
                await self.tell("b", "please ask me")
                return None
            return "a answers"

    class B(Actor):
        def __init__(self, done: list[Any]) -> None:
            self.done = done

        async def receive(self, message: Any) -> Any:
            self.done.append(await self.ask("a", "question", timeout=5))

    done: list[Any] = []
    async with ActorSystem() as system:
        await system.spawn(A, name="a")
        b = await system.spawn(lambda: B(done), name="b")
        await system.bus.tell("a", "start")
        await system.bus.ask("a", "sync")
        await b.ask("sync")
        assert done[0] == "a answers"
