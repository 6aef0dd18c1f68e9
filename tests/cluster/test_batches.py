"""The transport's pieces without a server: batches of tells, groups of durable tells, and the
delivery facts read from a JetStream reply subject."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from letta_actors.actors import Envelope
from letta_actors.cluster._batches import BATCH_BYTES, GROUP_MAX, Batch, Batches, Group
from letta_actors.cluster._transport import _delivery

pytestmark = pytest.mark.anyio


def envelope(n: int) -> Envelope:
    return Envelope(f"a.b.{n}", "x", n, time.time())


def test_a_lone_tell_travels_as_itself_several_as_an_array() -> None:
    batch = Batch()
    batch.add(b'{"n":1}', envelope(1))
    assert batch.payload == b'{"n":1}'
    batch.add(b'{"n":2}', envelope(2))
    assert orjson.loads(batch.payload) == [{"n": 1}, {"n": 2}]
    assert batch.size >= len(batch.payload), "size bounds what is sent"


async def test_batches_are_sent_when_the_loop_turns_or_once_full() -> None:
    sent: list[dict[str, Batch]] = []
    batches = Batches(sent.append)
    assert batches.add("s", b"1", envelope(1), limit=1000) is None
    assert batches.add("t", b"2", envelope(2), limit=1000) is None
    assert sent == []
    await _next_turn()
    assert [{k: b.payload for k, b in s.items()} for s in sent] == [{"s": b"1", "t": b"2"}]
    # Past BATCH_BYTES the batch is handed back to be sent now, with the tell in it.
    big = b"x" * BATCH_BYTES
    full = batches.add("s", big, envelope(3), limit=10 * BATCH_BYTES)
    assert full is not None and full.datas == [big]
    # A tell that does not fit in the limit: the batch before it comes back without it.
    assert batches.add("s", b"y" * 10, envelope(4), limit=100) is None
    full = batches.add("s", b"z" * 95, envelope(5), limit=100)
    assert full is not None and full.datas == [b"y" * 10]
    assert batches.take("s") is None, "handed back: the caller adds the tell again"


def test_a_group_takes_tells_until_stored_full_or_alone() -> None:
    group = Group()
    group.add(b"1", envelope(1))
    assert group.message_id == "a.b.1"
    assert group.fits(b"2", limit=1000)
    group.add(b"2", envelope(2))
    assert group.message_id == "a.b.1+2"
    group.publishing = True
    assert not group.fits(b"3", limit=1000), "being stored: the next group takes it"
    assert not Group(alone=True).fits(b"1", limit=1000), "a sender's own id is stored alone"
    many = Group()
    for n in range(GROUP_MAX):
        many.add(b"1", envelope(n))
    assert not many.fits(b"1", limit=1000)
    assert not Group().fits(b"x" * 101, limit=100)


async def test_a_group_tells_its_waiters_how_it_ended() -> None:
    group = Group()
    group.end(None)
    await group.wait_ended()  # ended before anybody waited: no wait
    failed = Group()
    failed.end(TimeoutError("no answer"))
    await failed.wait_ended()
    assert isinstance(failed.error, TimeoutError)


def test_the_delivery_facts_come_from_the_reply_subject_in_both_forms() -> None:
    v1 = "$JS.ACK.mailboxes.c1.2.41.7.1700000000000000000.5"
    assert _delivery(v1) == (41, 2)
    v2 = "$JS.ACK._.ACCHASH.mailboxes.c1.1.42.8.1700000000000000000.0.token"
    assert _delivery(v2) == (42, 1)


async def _next_turn() -> None:
    await asyncio.sleep(0)  # the cluster runs on asyncio: the loop's call_soon runs first
