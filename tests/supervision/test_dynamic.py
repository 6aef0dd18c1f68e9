"""Dynamic children and monitors."""

from __future__ import annotations

import functools
from typing import Any

import anyio
import pytest

from letta_actors import (
    Actor,
    ActorNotFound,
    ActorState,
    ActorSystem,
    ChildSpec,
    NameTaken,
    Supervisor,
    Terminated,
)

from ..helpers import Boom, Echo, Recorder
from .test_strategies import Worker

pytestmark = pytest.mark.anyio


async def test_start_terminate_restart_delete_and_list_children() -> None:
    events: list[str] = []
    async with ActorSystem() as system:
        await system.spawn(Supervisor, name="sup")
        sup = system.supervisor("sup")
        ref = await sup.start_child(ChildSpec(factory=functools.partial(Worker, events), name="w"))
        assert await ref.ask("x") == 1
        with pytest.raises(NameTaken):
            await sup.start_child(ChildSpec(factory=Echo, name="w"))

        await sup.terminate_child("w")
        [info] = await sup.which_children()
        assert (info.name, info.state, info.restarts) == ("w", ActorState.STOPPED, 0)
        assert not ref.alive

        await sup.restart_child("w")  # a terminated child starts again from its spec
        assert await ref.ask("x") == 1
        await sup.restart_child("w")  # a running one is restarted
        assert await ref.ask("x") == 1
        assert (await sup.which_children())[0].restarts == 1

        with pytest.raises(ValueError, match="terminate it first"):
            await sup.delete_child("w")
        await sup.terminate_child("w")
        await sup.delete_child("w")
        assert await sup.which_children() == []
        with pytest.raises(ActorNotFound):
            await sup.restart_child("w")
        assert events == ["start w", "stop w", "start w", "stop w", "start w", "stop w"]


async def test_terminate_drains_the_child_mailbox() -> None:
    recorder = Recorder()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: recorder, name="r")
        for i in range(10):
            await ref.tell(i)
        await system.supervisor().terminate_child("r")
        assert recorder.log == list(range(10))


async def test_supervisor_rejects_unknown_requests_without_restarting() -> None:
    async with ActorSystem() as system:
        with pytest.raises(TypeError, match="does not understand"):
            await system.ref("root").ask("what?")
        assert system.cell("root").stats.restarts == 0  # type: ignore[union-attr]


async def test_spawn_under_a_nested_supervisor() -> None:
    async with ActorSystem() as system:
        await system.spawn(Supervisor, name="team")
        ref = await system.spawn(Echo, name="member", supervisor="team")
        assert await ref.ask(1) == 1
        assert [c.name for c in await system.supervisor("team").which_children()] == ["member"]
        assert system.cell("member").parent == "team"  # type: ignore[union-attr]


async def test_asking_the_own_supervisor_from_on_start_is_refused_not_deadlocked() -> None:
    from letta_actors import AskCycle

    class Spawner(Echo):
        async def on_start(self) -> None:
            await self.system.spawn(Echo, name="helper")

    async with ActorSystem() as system:
        with pytest.raises(AskCycle):
            await system.spawn(Spawner, name="spawner")


class Watcher(Actor):
    def __init__(self, got: list[Terminated], event: anyio.Event) -> None:
        self.got = got
        self.event = event

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Terminated):
            self.got.append(message)
            self.event.set()


async def _watcher(system: ActorSystem) -> tuple[list[Terminated], anyio.Event]:
    got: list[Terminated] = []
    event = anyio.Event()
    await system.spawn(lambda: Watcher(got, event), name="watcher")
    return got, event


async def test_watcher_gets_terminated_when_the_watched_actor_stops_for_good() -> None:
    async with ActorSystem() as system:
        got, event = await _watcher(system)
        ref = await system.spawn(Echo, name="e")
        system.watch("watcher", ref)
        await ref.stop()
        await event.wait()
        assert got == [Terminated("e", "shutdown")]


async def test_watcher_is_not_told_about_restarts_only_the_final_stop() -> None:
    class Crasher(Actor):
        async def receive(self, message: Any) -> Any:
            raise Boom(message)

    async with ActorSystem() as system:
        got, event = await _watcher(system)
        ref = await system.spawn(Crasher, name="c", restart="transient")
        system.watch("watcher", "c")
        await ref.tell("first")  # restarted: no notification
        with pytest.raises(Boom):
            await ref.ask("second")
        assert got == []
        temp = await system.spawn(Crasher, name="t", restart="temporary")
        system.watch("watcher", temp)
        await temp.tell("bye")
        await event.wait()
        assert [(t.name, t.reason) for t in got] == [("t", "error")]
        assert isinstance(got[0].error, Boom)


async def test_watching_a_missing_actor_reports_noproc_at_once() -> None:
    async with ActorSystem() as system:
        got, event = await _watcher(system)
        system.watch("watcher", "nobody")
        await event.wait()
        assert got == [Terminated("nobody", "noproc")]


async def test_watch_by_an_unknown_watcher_is_refused() -> None:
    async with ActorSystem() as system:
        await system.spawn(Echo, name="e")
        with pytest.raises(ActorNotFound):
            system.watch("nobody", "e")


async def test_unwatch() -> None:
    async with ActorSystem() as system:
        got, _ = await _watcher(system)
        ref = await system.spawn(Echo, name="e")
        system.watch("watcher", "e")
        system.unwatch("watcher", "e")
        await ref.stop()
        await system.ref("watcher").ask("sync")
        assert got == []
