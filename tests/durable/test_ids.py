"""What a stored message looks like when it comes back: its id kept (unique across processes,
so a Letta agent's ``otid`` is the same before and after a crash) and marked ``attempt > 1``
(it may have been handled before), so a Letta agent looks it up instead of sending it again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from letta_actors import Actor, ActorSystem
from letta_actors.actors import Envelope
from letta_actors.durable import DurableStore

pytestmark = pytest.mark.anyio

Seen = list[tuple[Any, int | str, int]]


class Record(Actor):
    """Records ``(payload, envelope id, attempt)`` of what it handles; sets ``done`` once it has
    ``expected``; with ``hold``, handling ``"hold"`` never ends (what follows stays queued)."""

    def __init__(self, seen: Seen, done: anyio.Event, expected: int, hold: bool) -> None:
        self.seen, self.done, self.expected, self.hold = seen, done, expected, hold

    async def receive(self, message: Any) -> None:
        envelope = self.envelope
        assert envelope is not None
        self.seen.append((message, envelope.id, envelope.attempt))
        if len(self.seen) >= self.expected:
            self.done.set()
        if message == "hold" and self.hold:
            await anyio.sleep_forever()


async def run(path: Path, tells: list[tuple[Any, str | None]], expected: int, hold: bool) -> Seen:
    """One process's life on ``path``: ``worker`` told ``tells`` (message, message_id); returns
    once it handled ``expected`` messages (with ``hold``, left handling ``"hold"``: the stop
    cuts it short, and it stays stored with what is queued behind it, as after a SIGKILL)."""
    seen: Seen = []
    done = anyio.Event()
    async with DurableStore(path) as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            await system.spawn(
                lambda: Record(seen, done, expected, hold), name="worker", shutdown=0.05
            )
            for message, message_id in tells:
                await system.bus.tell("worker", message, message_id=message_id)
            with anyio.fail_after(10):
                await done.wait()
    return seen


async def stored_ids(path: Path) -> list[int | str]:
    async with DurableStore(path) as store:
        return [envelope.id for _, envelope in await store.pending()]


async def test_a_restored_message_keeps_its_id_and_is_marked_attempt_2(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    tells: list[tuple[Any, str | None]] = [("hold", None), ("queued", None), ("mine", "api-1")]
    first = await run(path, tells, 1, hold=True)
    [(_, held_id, attempt)] = first
    assert attempt == 1
    assert isinstance(held_id, str)  # given before it was stored
    ids = await stored_ids(path)
    assert ids[0] == held_id and ids[2] == "api-1"  # the sender's own id is kept

    second = await run(path, [("new", None)], 4, hold=False)
    # Stored first (ids as before the "crash", each maybe delivered before), then the new one.
    assert second[:3] == [("hold", ids[0], 2), ("queued", ids[1], 2), ("mine", "api-1", 2)]
    assert second[3][0] == "new" and second[3][2] == 1
    assert await stored_ids(path) == []


async def test_ids_of_two_process_lifetimes_do_not_collide(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    # Both lives do the same steps, so their systems' counters give the same numbers.
    await run(path, [("hold", None), ("a", None), ("b", None)], 1, hold=True)
    restored = await stored_ids(path)
    second = await run(path, [("hold", None), ("a", None), ("b", None)], 6, hold=False)
    assert [seen[1] for seen in second[:3]] == restored
    ids = [seen[1] for seen in second]
    assert len(set(ids)) == 6
    assert all(isinstance(i, str) for i in ids)


async def test_the_store_gives_int_ids_a_lasting_one_and_keeps_str_ones(tmp_path: Path) -> None:
    now = time.time()
    async with DurableStore(tmp_path / "a.db") as one, DurableStore(tmp_path / "b.db") as two:
        assert one.boot != two.boot
        counted, given = Envelope(7, "worker", "x", now), Envelope("api-7", "worker", "y", now)
        await one.append("worker", counted)
        await one.append("worker", given)
        assert counted.id == f"{one.boot}.7"  # set on the envelope, as stored
        assert [e.id for _, e in await one.pending()] == [f"{one.boot}.7", "api-7"]
        assert two.message_id(Envelope(7, "worker", "x", now)) != counted.id


async def test_a_message_cut_short_in_this_process_comes_back_marked(tmp_path: Path) -> None:
    seen: Seen = []
    done = anyio.Event()
    async with DurableStore(tmp_path / "team.db") as store:
        system = ActorSystem()
        await store.attach(system, ["worker"])
        async with system:
            ref = await system.spawn(
                lambda: Record(seen, done, 1, hold=True), name="worker", shutdown=0.05
            )
            await ref.tell("hold")
            await ref.tell("next")
            with anyio.fail_after(10):
                await done.wait()
            await system.stop("worker")  # cuts "hold" short; "next" never started
            done = anyio.Event()
            await system.spawn(lambda: Record(seen, done, 3, hold=False), name="worker")
            with anyio.fail_after(10):
                await done.wait()
    [(_, held_id, _), *_] = seen
    assert seen[1:] == [("hold", held_id, 2), ("next", seen[2][1], 1)]
