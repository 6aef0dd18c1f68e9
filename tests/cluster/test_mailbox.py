"""The cluster's mailboxes without a server: the lease gate and the stream side."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from letta_actors import Actor, ActorSystem
from letta_actors.actors import Envelope, Mailbox, MailboxConfig
from letta_actors.cluster import ClusterMailbox, StreamMailbox

pytestmark = pytest.mark.anyio


class FakeStream:
    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self.acked: list[Any] = []

    async def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)

    def ack(self, message: Any) -> None:
        self.acked.append(message)


def tell(n: int) -> Envelope:
    return Envelope(n, "x", f"m{n}", time.time())


async def test_a_tell_to_a_closed_stream_mailbox_is_still_stored() -> None:
    """The actor is stopping here (handed over, lease lost): its tells go to the stream for
    the next owner, never to dead letters."""
    stream = FakeStream()
    mailbox = StreamMailbox("x", MailboxConfig(), anyio.Event, lambda _: True, stream)
    mailbox.close()
    assert mailbox.offer(tell(1)) is False
    assert await mailbox.put(tell(1)) is None
    assert [e.id for e in stream.published] == [1]


async def test_settle_acknowledges_and_drain_leaves_the_rest_unacknowledged() -> None:
    stream = FakeStream()
    mailbox = StreamMailbox("x", MailboxConfig(), anyio.Event, lambda _: True, stream)
    first, second = tell(1), tell(2)
    mailbox.deliver([first], "msg-1")
    mailbox.deliver([second], "msg-2")
    assert await mailbox.get() is first
    mailbox.settle(first)
    assert stream.acked == ["msg-1"]
    assert mailbox.drain() == [second]
    mailbox.settle(second)  # dead-lettered at retirement: not acknowledged
    assert stream.acked == ["msg-1"]


async def test_tells_stored_together_are_acknowledged_with_the_last_of_them() -> None:
    stream = FakeStream()
    mailbox = StreamMailbox("x", MailboxConfig(), anyio.Event, lambda _: True, stream)
    first, second, third = tell(1), tell(2), tell(3)
    mailbox.deliver([first, second], "msg-12")
    mailbox.deliver([third], "msg-3")
    assert await mailbox.get() is first
    mailbox.settle(first)
    assert stream.acked == [], "its stream message also holds the second"
    assert await mailbox.get() is second
    mailbox.settle(second)
    assert stream.acked == ["msg-12"]
    assert await mailbox.get() is third
    mailbox.settle(third, cut_short=True)  # a stop: back at the head, not acknowledged
    assert stream.acked == ["msg-12"]
    assert third.attempt == 2, "it may have had effects: marked as a possible redelivery"
    assert mailbox.drain() == []  # already dead-lettered (cancelled) when cut short


async def test_a_mailbox_whose_lease_is_lost_hands_nothing_out() -> None:
    owned = {"x": True}
    mailbox = ClusterMailbox("x", MailboxConfig(), anyio.Event, owned.__getitem__)
    mailbox.offer(tell(1))
    mailbox.offer(tell(2))
    assert (await mailbox.get()).id == 1
    owned["x"] = False
    taken: list[Envelope] = []
    async with anyio.create_task_group() as tg:

        async def take() -> None:
            taken.append(await mailbox.get())

        tg.start_soon(take)
        await wait_all_tasks_blocked()  # it waits until the actor is stopped (cancelled)
        tg.cancel_scope.cancel()
    assert taken == []
    assert [e.id for e in mailbox.drain()] == [2], "kept, not handed out"


async def test_the_cell_takes_nothing_more_once_the_lease_is_lost() -> None:
    """The cell's inline take (no get() call while messages are queued) is fenced too."""
    owned = {"x": True}
    handled: list[str] = []

    class LosesItsLease(Actor[str, None]):
        async def receive(self, message: str) -> None:
            handled.append(message)
            owned["x"] = False  # as if the lease expired while it handled this one

    def mailboxes(name: str, config: MailboxConfig, events: Any) -> Mailbox:
        if name == "x":
            return ClusterMailbox(name, config, events, owned.__getitem__)
        return Mailbox(name, config, events)

    async with ActorSystem() as system:
        system.mailbox_factory = mailboxes
        ref = await system.spawn(LosesItsLease, name="x")
        for message in ("a", "b", "c"):  # all queued before the actor runs
            await ref.tell(message)
        await wait_all_tasks_blocked()
        assert handled == ["a"]
        info = system.info("x")
        assert info is not None and info.mailbox_depth == 2
        await ref.stop(timeout=0)  # as the runtime stops an actor whose lease was lost
