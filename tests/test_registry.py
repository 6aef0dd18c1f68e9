"""The registry (``system.registry``) and the actor snapshot (``ActorInfo``) other layers read."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from letta_actors import (
    Actor,
    ActorInfo,
    ActorNotFound,
    ActorState,
    ActorSystem,
    MailboxConfig,
    NameTaken,
    Supervisor,
    SystemStopped,
    Terminated,
)
from letta_actors.actors import ActorCell, ActorRegistry

from .helpers import Echo, Gate, Recorder, gate_parts

pytestmark = pytest.mark.anyio


async def test_two_systems_in_one_process_never_see_each_other() -> None:
    async with ActorSystem(name="a") as a, ActorSystem(name="b") as b:
        await a.spawn(Echo, name="shared")
        await a.spawn(Echo, name="only-a")
        await b.spawn(Recorder, name="shared")
        assert a.registry is not b.registry
        assert "only-a" in a.registry and "only-a" not in b.registry
        assert b.info("only-a") is None
        shared_a, shared_b = a.registry.get("shared"), b.registry.get("shared")
        assert shared_a is not None and shared_b is not None and shared_a is not shared_b
        assert [cell.name for cell in a.registry.cells()] == ["root", "shared", "only-a"]
        assert [info.name for info in b.registry.infos()] == ["root", "shared"]
        assert (len(a.registry), len(b.registry)) == (3, 2)
        # a watch, a retirement and a message in one system reach nothing of the other
        a.watch("only-a", "shared")
        await b.lookup("shared").stop()
        await b.spawn(Recorder, name="shared")
        assert await b.lookup("shared").ask("log", timeout=5) == []
        assert a.lookup("shared").alive
        await a.lookup("shared").stop()
        assert "shared" in b.registry


async def test_registry_reads_and_snapshots() -> None:
    async with ActorSystem() as system:
        await system.spawn(Echo, name="echo")
        registry = system.registry
        cell = registry.get("echo")
        assert isinstance(cell, ActorCell) and system.cell("echo") is cell
        assert registry.get("nobody") is None and "nobody" not in registry
        cells = registry.cells()
        cells.clear()  # a copy: the registry is untouched
        assert len(registry) == 2
        # from a foreign thread (a metrics scrape)
        names = await anyio.to_thread.run_sync(lambda: [c.name for c in registry.cells()])
        assert names == ["root", "echo"]
        info = system.info("echo")
        assert isinstance(info, ActorInfo) and info.name == "echo"
        assert info.state is ActorState.RUNNING and info.supervisor == "root"
        assert system.info("nobody") is None
        assert [i.name for i in system.actors()] == [i.name for i in registry.infos()]


async def test_register_refuses_a_taken_name_and_a_stopped_system() -> None:
    async with ActorSystem() as system:
        await system.spawn(Echo, name="echo")
        other = ActorCell(system, "echo", Echo, mailbox=MailboxConfig())
        with pytest.raises(NameTaken):
            system.registry.register(other)
        system.registry.unregister(other)  # not the holder: nothing happens
        assert system.registry.get("echo") is not other
    late = ActorCell(system, "late", Echo, mailbox=MailboxConfig())
    with pytest.raises(SystemStopped):
        system.registry.register(late)


async def test_retire_notifies_listeners_and_watchers_and_forgets_topics() -> None:
    finals: list[ActorInfo] = []
    async with ActorSystem() as system:
        system.retire_listeners.append(finals.append)
        assert system.retire_listeners is system.registry.retire_listeners
        watcher = Recorder()
        await system.spawn(lambda: watcher, name="watcher")
        await system.spawn(Echo, name="echo")
        system.bus.subscribe("news", "echo")
        system.watch("watcher", "echo")
        system.watch("watcher", "nobody")
        await system.lookup("echo").stop()
        log = await system.lookup("watcher").ask("log", timeout=5)
        assert log == [Terminated("nobody", "noproc"), Terminated("echo", "shutdown")]
        assert [info.name for info in finals] == ["echo"]
        assert finals[0].state is ActorState.STOPPED and finals[0].actor is None
        assert system.bus.topics.subscribers("news") == ()
        assert "echo" not in system.registry
        with pytest.raises(ActorNotFound):
            system.registry.watch("nobody", "watcher")


async def test_post_ignores_capacity() -> None:
    gate, entered, seen = gate_parts()
    async with ActorSystem() as system:
        await system.spawn(lambda: Gate(gate, entered, seen), name="g",
                           mailbox=MailboxConfig(capacity=1))  # fmt: skip
        ref = system.lookup("g")
        await ref.tell("wait")
        await entered.wait()
        await ref.tell("queued")  # the mailbox is full now
        cell = system.registry.get("g")
        assert cell is not None
        system.registry.post(cell, "notice")
        assert len(cell.mailbox) == 2  # over its capacity of 1
        gate.set()
        assert await ref.ask("last", timeout=5) == "last"
        assert seen == ["wait", "queued", "notice", "last"]


class Described(Actor):
    description = "  finds things  "

    async def receive(self, message: Any) -> Any:
        return message


class Blank(Echo):
    description = ""


class NotText(Echo):
    description = 3


async def test_actor_info_fields() -> None:
    gate, entered, seen = gate_parts()
    finals: list[ActorInfo] = []
    async with ActorSystem() as system:
        system.retire_listeners.append(finals.append)
        await system.spawn(lambda: Gate(gate, entered, seen), name="gate")
        await system.spawn(Described, name="described")
        await system.spawn(Blank, name="blank")
        await system.spawn(NotText, name="not-text")
        await system.spawn(Supervisor, name="sup")
        root = system.info("root")
        sup = system.info("sup")
        assert root is not None and root.is_supervisor is True
        assert sup is not None and sup.is_supervisor is True and isinstance(sup.actor, Supervisor)
        info = system.info("gate")
        assert info is not None and info.is_supervisor is False and info.current is None
        assert isinstance(info.actor, Gate) and info.description is None
        await system.lookup("gate").tell("wait")
        await entered.wait()
        busy = system.info("gate")
        assert busy is not None and busy.current == "wait"
        gate.set()
        described = system.info("described")
        assert described is not None and described.description == "  finds things  "
        blank, not_text = system.info("blank"), system.info("not-text")
        assert blank is not None and blank.description is None
        assert not_text is not None and not_text.description is None
        await system.lookup("described").stop()
        [final] = finals
        assert final.is_supervisor is None and final.actor is None and final.current is None
        assert final.description is None  # no instance runs


async def test_is_supervisor_is_a_class_marker_and_refuses_children_of_plain_actors() -> None:
    assert Supervisor.is_supervisor is True and Actor.is_supervisor is False
    async with ActorSystem() as system:
        await system.spawn(Supervisor, name="sup")
        await system.spawn(Supervisor, name="inner", supervisor="sup")
        await system.spawn(Echo, name="leaf", supervisor="sup")
        children = await system.supervisor("sup").which_children()
        assert [(c.name, c.supervisor) for c in children] == [("inner", True), ("leaf", False)]
        with pytest.raises(TypeError, match="Echo, not a Supervisor"):
            await system.spawn(Echo, supervisor="leaf")


def test_a_registry_stands_alone() -> None:
    registry = ActorRegistry()
    assert len(registry) == 0 and registry.cells() == [] and registry.infos() == []
    assert registry.next_id() == 1 and registry.next_id() == 2
