"""The cluster's mailboxes without a server: the lease gate and the stream side."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from letta_actors.actors import Envelope, MailboxConfig
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
