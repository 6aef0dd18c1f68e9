"""The bus's hot paths take shortcuts; these tests pin what the shortcuts must keep."""

from __future__ import annotations

import bisect
import dataclasses
import time
from typing import Any, Literal

import anyio
import pytest

from letta_actors import Actor, ActorSystem, MailboxConfig
from letta_actors.actors import Envelope
from letta_actors.actors._mailbox import Mailbox
from letta_actors.actors._stats import BUCKETS

from .helpers import Recorder

pytestmark = pytest.mark.anyio


class Keeper(Actor):
    """Keeps every envelope it handles."""

    def __init__(self) -> None:
        self.kept: list[Envelope] = []

    async def receive(self, message: Any) -> Any:
        assert self.envelope is not None
        self.kept.append(self.envelope)
        return None


async def test_a_told_envelope_has_every_field_the_constructor_sets() -> None:
    # Bus.post sets the fields itself (no __init__ frame): a field added to Envelope must be
    # set there too, or this test fails on the missing slot.
    keeper = Keeper()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: keeper, name="keeper")
        await ref.tell({"n": 1})
        await system.bus.tell("keeper", "with id", message_id="m-1")
        await ref.ask("flush")
    told, with_id, _ = keeper.kept
    assert isinstance(told.id, int)
    expected = Envelope(told.id, "keeper", {"n": 1}, told.sent_at)
    for field in dataclasses.fields(Envelope):
        assert getattr(told, field.name) == getattr(expected, field.name), field.name
    assert with_id.id == "m-1"
    assert Envelope.from_json(told.to_json()).payload == {"n": 1}


def _recording_mailbox(seen: list[tuple[str, Any]]) -> type[Mailbox]:
    class Recording(Mailbox):
        """Sees every message: the bus may not append to its queue itself."""

        __slots__ = ()
        fast_path = False

        def offer(self, envelope: Envelope) -> Envelope | Literal[False] | None:
            seen.append(("offer", envelope.payload))
            return super().offer(envelope)

        async def put(self, envelope: Envelope) -> Envelope | None:
            seen.append(("put", envelope.payload))
            return await super().put(envelope)

    return Recording


async def test_a_mailbox_without_the_fast_path_sees_every_send_through_offer() -> None:
    seen: list[tuple[str, Any]] = []
    recorder = Recorder()
    system = ActorSystem()
    system.mailbox_factory = _recording_mailbox(seen)
    async with system:
        ref = await system.spawn(lambda: recorder, name="r", mailbox=MailboxConfig(capacity=2))
        seen.clear()  # the spawn's own messages (to the supervisor)
        for i in range(5):  # more than the capacity: some sends wait for room
            await ref.tell(i)
        assert await ref.ask("log") == [0, 1, 2, 3, 4]
    mine = [(how, payload) for how, payload in seen if payload in (0, 1, 2, 3, 4, "log")]
    assert [p for how, p in mine if how == "offer"][:1] == [0]
    assert {p for how, p in mine if how == "offer"} == {0, 1, 2, 3, 4, "log"}


# Clock readings the handler sets, each after a 0.0: every bound itself and just past it, so
# each handling time (and each wait, the reading before) is exactly that value.
READINGS = [r for b in BUCKETS[:6] for r in (b, 0.0, b * 1.01, 0.0)] + [3.0, 0.0, 700.0]


async def test_histograms_put_each_message_in_its_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    # The consumer compares the first buckets in line and bisects past them: with a
    # clock the handler sets, every wait and handling time lands where bisect_left puts it.
    now = [0.0]
    monkeypatch.setattr(time, "time", lambda: now[0])

    class SetClock(Actor):
        async def receive(self, message: Any) -> Any:
            now[0] = message
            return None

    async with ActorSystem() as system:
        ref = await system.spawn(SetClock, name="a", mailbox=MailboxConfig(capacity=100))
        for reading in READINGS:  # all queued at 0.0, before the actor runs (no turn is due)
            await ref.tell(reading)
        await ref.ask(0.0)
        cell = system.cell("a")
        assert cell is not None
        stats = cell.stats
    waiting = [0] * (len(BUCKETS) + 1)
    handling = [0] * (len(BUCKETS) + 1)
    clock = 0.0
    for reading in [*READINGS, 0.0]:
        waiting[bisect.bisect_left(BUCKETS, clock)] += 1  # sent at 0.0, started at `clock`
        handling[bisect.bisect_left(BUCKETS, max(reading - clock, 0.0))] += 1
        clock = reading
    assert stats.waiting.counts == waiting
    assert stats.handling.counts == handling
    assert all(handling[:5]) and all(waiting[:5]) and handling[-1] == waiting[-1] == 1


async def test_a_sender_that_sent_before_still_sees_its_cancellation_and_its_shield() -> None:
    # Bus.post walks the scopes of the task that sent last itself (no probe call).
    recorder = Recorder()
    async with ActorSystem() as system:
        ref = await system.spawn(lambda: recorder, name="r")
        await ref.tell("first")  # this task is now the one the bus knows
        with anyio.CancelScope() as outer:
            outer.cancel()
            with anyio.CancelScope(shield=True):
                await ref.tell("shielded")  # sent: the shield hides the cancellation
            with anyio.CancelScope():
                await ref.tell("never sent")
            pytest.fail("tell did not check for cancellation")
        assert outer.cancelled_caught
        assert await ref.ask("log") == ["first", "shielded"]
