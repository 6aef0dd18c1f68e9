"""Actor basics: spawn, tell, ask, ordering, one message at a time, lifecycle, context."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from letta_actors import Actor, ActorNotFound, ActorSystem, NameTaken, SystemStopped

from .helpers import Echo, Recorder

pytestmark = pytest.mark.anyio


async def test_readme_example() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="echo")
        await ref.tell("hello")
        assert await ref.ask("ping", timeout=1.0) == "ping"


async def test_spawn_accepts_a_zero_argument_factory() -> None:
    async with ActorSystem() as system:
        recorder = Recorder()
        ref = await system.spawn(lambda: recorder, name="rec")
        await ref.tell(1)
        assert await ref.ask("log") == [1]
        assert recorder.log == [1]


async def test_factory_returning_a_non_actor_fails_spawn() -> None:
    async with ActorSystem() as system:
        with pytest.raises(TypeError, match="not an Actor"):
            await system.spawn(lambda: object(), name="bad")  # type: ignore[arg-type,return-value]
        assert system.cell("bad") is None


async def test_messages_from_one_sender_arrive_in_order() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, name="rec")
        for i in range(500):
            await ref.tell(i)
        assert await ref.ask("log") == list(range(500))


async def test_one_message_at_a_time_even_with_concurrent_askers() -> None:
    active = 0
    peak = 0

    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await anyio.lowlevel.checkpoint()
            await anyio.lowlevel.checkpoint()
            active -= 1
            return message * 2

    async with ActorSystem() as system:
        ref = await system.spawn(Slow, name="slow")
        results: dict[int, int] = {}

        async def ask(i: int) -> None:
            results[i] = await ref.ask(i)

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(ask, i)
    assert results == {i: i * 2 for i in range(50)}
    assert peak == 1


async def test_lifecycle_hooks_run_in_order() -> None:
    events: list[str] = []

    class Hooks(Actor):
        async def on_start(self) -> None:
            events.append(f"start:{self.name}")

        async def receive(self, message: Any) -> Any:
            events.append(f"msg:{message}")

        async def on_stop(self) -> None:
            events.append("stop")

    async with ActorSystem() as system:
        ref = await system.spawn(Hooks, name="h")
        await ref.tell("a")
    assert events == ["start:h", "msg:a", "stop"]


async def test_on_start_failure_fails_spawn_and_frees_the_name() -> None:
    class Fails(Echo):
        async def on_start(self) -> None:
            raise RuntimeError("no")

    async with ActorSystem() as system:
        with pytest.raises(RuntimeError, match="no"):
            await system.spawn(Fails, name="f")
        assert system.cell("f") is None
        await system.spawn(Echo, name="f")


async def test_actor_knows_name_system_sender_and_can_talk() -> None:
    seen: dict[str, Any] = {}

    class Ponger(Actor):
        async def receive(self, message: Any) -> Any:
            seen["sender"] = self.sender
            seen["envelope_sender"] = self.envelope.sender if self.envelope else None
            if message == "ping":
                await self.reply("pong")
            return "asked"

    class Pinger(Actor):
        def __init__(self) -> None:
            self.got: list[Any] = []

        async def receive(self, message: Any) -> Any:
            if message == "go":
                seen["system"] = self.system
                await self.tell("ponger", "ping")
                return await self.ask("ponger", "question")
            self.got.append((message, self.sender))
            return None

    async with ActorSystem() as system:
        await system.spawn(Ponger, name="ponger")
        pinger = Pinger()
        ref = await system.spawn(lambda: pinger, name="pinger")
        assert await ref.ask("go") == "asked"
        await ref.ask("sync")  # the pong was queued before this
        assert pinger.got[0] == ("pong", "ponger")
        assert seen["sender"] == "pinger"
        assert seen["system"] is system


async def test_reply_without_an_actor_sender_raises() -> None:
    class Replier(Actor):
        async def receive(self, message: Any) -> Any:
            await self.reply("x")

    async with ActorSystem() as system:
        ref = await system.spawn(Replier, name="r", restart="temporary")
        with pytest.raises(RuntimeError, match="no sending actor"):
            await ref.ask("hi")


async def test_deferred_reply_answers_later() -> None:
    class Deferring(Actor):
        def __init__(self) -> None:
            self.pending: list[Any] = []

        async def receive(self, message: Any) -> Any:
            if message == "later":
                self.pending.append(self.defer_reply())
                return "ignored"
            for slot in self.pending:
                slot.set_result(f"answer:{message}")
            return "released"

    async with ActorSystem() as system:
        ref = await system.spawn(Deferring, name="d")
        answers: list[Any] = []

        async def ask_later() -> None:
            answers.append(await ref.ask("later"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask_later)
            await anyio.wait_all_tasks_blocked()
            assert await ref.ask("now") == "released"
        assert answers == ["answer:now"]


async def test_duplicate_name_is_refused() -> None:
    async with ActorSystem() as system:
        await system.spawn(Echo, name="x")
        with pytest.raises(NameTaken, match="'x'"):
            await system.spawn(Echo, name="x")


async def test_generated_names_are_unique() -> None:
    async with ActorSystem() as system:
        a = await system.spawn(Echo)
        b = await system.spawn(Echo)
        assert a.name != b.name
        assert a.name.startswith("echo-")


async def test_lookup_unknown_raises_and_ref_tracks_the_name() -> None:
    async with ActorSystem() as system:
        with pytest.raises(ActorNotFound):
            system.lookup("later")
        ref = system.ref("later")
        assert not ref.alive
        await system.spawn(Echo, name="later")
        assert ref.alive
        assert await ref.ask(3) == 3
        assert ref == system.lookup("later")


async def test_use_after_the_system_stopped_is_a_clear_error() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="e")
    with pytest.raises(SystemStopped):
        await system.spawn(Echo, name="f")
    with pytest.raises(SystemStopped):
        await ref.ask(1)
    with pytest.raises(SystemStopped):
        await ref.tell(1)
    assert not ref.alive


async def test_two_systems_do_not_see_each_other() -> None:
    async with ActorSystem() as one, ActorSystem() as two:
        await one.spawn(Echo, name="same")
        await two.spawn(Echo, name="same")
        await one.bus.tell("only-in-one", 1)
        assert len(one.dead_letters) == 1
        assert len(two.dead_letters) == 0
        assert [a.name for a in one.actors()] == ["root", "same"]


async def test_system_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="ask_timeout"):
        ActorSystem(ask_timeout=0)
    with pytest.raises(ValueError, match="shutdown_timeout"):
        ActorSystem(shutdown_timeout=-1)
