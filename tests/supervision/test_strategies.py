"""Supervision strategies and restart types: who restarts, in what order, with what state."""

from __future__ import annotations

import functools
import logging
from typing import Any

import anyio
import pytest

from letta_actors import (
    NO_BACKOFF,
    Actor,
    ActorState,
    ActorSystem,
    ChildSpec,
    Intensity,
    Supervisor,
)
from letta_actors.supervisors import RestartType, Strategy

from ..helpers import Boom

pytestmark = pytest.mark.anyio


class Worker(Actor):
    """Counts messages since its start; ``"crash"`` raises, ``"exit"`` exits normally."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.count = 0

    async def on_start(self) -> None:
        self.events.append(f"start {self.name}")

    async def on_stop(self) -> None:
        self.events.append(f"stop {self.name}")

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise Boom(self.name)
        if message == "exit":
            self.stop()
            return None
        self.count += 1
        return self.count


def spec(name: str, events: list[str], restart: RestartType = "permanent") -> ChildSpec:
    return ChildSpec(factory=functools.partial(Worker, events), name=name, restart=restart)


def tree(
    events: list[str], strategy: Strategy, restarts: dict[str, RestartType] | None = None
) -> Supervisor:
    restarts = restarts or {}
    return Supervisor(
        [spec(n, events, restarts.get(n, "permanent")) for n in ("a", "b", "c")],
        strategy=strategy,
        intensity=Intensity(max_restarts=10, period=60),
        backoff=NO_BACKOFF,
    )


async def start_tree(system: ActorSystem, supervisor: Supervisor, events: list[str]) -> None:
    await system.spawn(lambda: supervisor, name="sup")
    for name in ("a", "b", "c"):
        assert await system.ref(name).ask("hello") == 1
    events.clear()


async def crash(system: ActorSystem, name: str) -> None:
    with pytest.raises(Boom):
        await system.ref(name).ask("crash")


async def wait_running(system: ActorSystem, *names: str) -> None:
    """Wait until each actor answers again (the supervisor restarts asynchronously)."""
    for name in names:
        await system.ref(name).ask("ping", timeout=5)


async def test_one_for_one_restarts_only_the_failed_child_with_fresh_state() -> None:
    events: list[str] = []
    async with ActorSystem() as system:
        await start_tree(system, tree(events, "one_for_one"), events)
        await crash(system, "b")
        assert await system.ref("b").ask("x") == 1  # a new instance: the count starts again
        assert await system.ref("a").ask("x") == 2  # untouched
        assert events == ["stop b", "start b"]
        children = await system.supervisor("sup").which_children()
        assert [(c.name, c.restarts) for c in children] == [("a", 0), ("b", 1), ("c", 0)]
        assert system.cell("b").stats.restarts == 1  # type: ignore[union-attr]


async def test_one_for_all_restarts_everyone_stopping_in_reverse_order() -> None:
    events: list[str] = []
    async with ActorSystem() as system:
        await start_tree(system, tree(events, "one_for_all"), events)
        await crash(system, "b")
        await wait_running(system, "a", "b", "c")
        assert events == [
            "stop b",  # the failed child ended first (it crashed)
            "stop c",
            "stop a",  # siblings stopped in reverse start order
            "start a",
            "start b",
            "start c",  # all started again in order
        ]


async def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it() -> None:
    events: list[str] = []
    async with ActorSystem() as system:
        await start_tree(system, tree(events, "rest_for_one"), events)
        await crash(system, "b")
        await wait_running(system, "a", "b", "c")
        assert events == ["stop b", "stop c", "start b", "start c"]
        assert await system.ref("a").ask("x") == 3  # a kept its state: hello, ping, x


async def test_temporary_child_is_never_restarted_even_by_a_sibling_failure() -> None:
    events: list[str] = []
    async with ActorSystem() as system:
        supervisor = tree(events, "one_for_all", {"c": "temporary"})
        await start_tree(system, supervisor, events)
        await crash(system, "a")
        await wait_running(system, "a", "b")
        assert system.cell("c") is None
        assert [c.name for c in await system.supervisor("sup").which_children()] == ["a", "b"]
        await crash(system, "b")
        await wait_running(system, "a", "b")
        assert "start c" not in events


async def test_temporary_child_that_crashes_is_removed() -> None:
    events: list[str] = []
    async with ActorSystem() as system:
        await start_tree(system, tree(events, "one_for_one", {"b": "temporary"}), events)
        await crash(system, "b")
        await wait_running(system, "a")
        with anyio.fail_after(5):  # the asker hears of the crash before the supervisor does
            while system.cell("b") is not None:
                await system.supervisor("sup").which_children()
        assert events == ["stop b"]


async def test_transient_child_restarts_after_a_crash_but_not_after_a_normal_exit() -> None:
    events: list[str] = []
    async with ActorSystem() as system:
        await start_tree(system, tree(events, "one_for_one", {"b": "transient"}), events)
        await crash(system, "b")
        await wait_running(system, "b")
        assert events == ["stop b", "start b"]
        events.clear()
        await system.ref("b").tell("exit")
        children = system.supervisor("sup")
        await _wait_state(children.which_children, "b", ActorState.STOPPED)
        assert events == ["stop b"]
        assert system.cell("b") is None


async def test_permanent_child_restarts_even_after_a_normal_exit() -> None:
    events: list[str] = []
    async with ActorSystem() as system:
        await start_tree(system, tree(events, "one_for_one"), events)
        await system.ref("b").tell("exit")
        await _wait_until(lambda: events == ["stop b", "start b"])


async def test_restart_keeps_the_mailbox_and_queued_messages_reach_the_new_instance() -> None:
    handled: list[tuple[int, Any]] = []
    instances = 0
    gate = anyio.Event()

    class Slow(Actor):
        def __init__(self) -> None:
            nonlocal instances
            instances += 1
            self.instance = instances

        async def receive(self, message: Any) -> Any:
            if message == "crash":
                await gate.wait()
                raise Boom
            handled.append((self.instance, message))

    async with ActorSystem(backoff=NO_BACKOFF) as system:
        ref = await system.spawn(Slow, name="slow")
        await ref.tell("crash")
        for i in range(5):
            await ref.tell(i)
        gate.set()
        await ref.ask("sync")
        assert handled == [(2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (2, "sync")]
        assert len(system.dead_letters) == 1  # the crashing tell, with its error


async def _wait_until(condition: Any) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.lowlevel.checkpoint()


async def _wait_state(which: Any, name: str, state: ActorState) -> None:
    with anyio.fail_after(5):
        while True:
            states = {c.name: c.state for c in await which()}
            if states.get(name) is state:
                return


async def test_crashes_and_restarts_are_logged_with_the_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    caplog.set_level(logging.INFO, logger="letta_actors")
    async with ActorSystem() as system:
        await start_tree(system, tree(events, "one_for_one"), events)
        await crash(system, "a")
        await wait_running(system, "a")
    crashed = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert crashed[0].levelno == logging.ERROR
    assert crashed[0].exc_info is not None
    assert isinstance(crashed[0].exc_info[1], Boom)
    assert "'a'" in crashed[0].getMessage()
    assert any("restarting 'a'" in r.getMessage() for r in caplog.records)
