"""The embedded store on its own: append, ack, pending in order, the codec, the file lock,
group commits, run records."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from letta_actors.actors._envelope import Envelope
from letta_actors.durable import Codec, DecodeError, DurableStore, StoreError

pytestmark = pytest.mark.anyio


class Order(BaseModel):
    item: str
    quantity: int


def envelope(payload: Any, recipient: str = "a", id: int | str = 1) -> Envelope:
    return Envelope(id, recipient, payload, time.time(), "sender", "topic")


async def test_append_pending_in_order_ack_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with DurableStore(path) as store:
        seqs = [await store.append("a", envelope(i, id=i)) for i in range(5)]
        await store.append("b", envelope("for b", "b", "mid-1"))
        assert seqs == sorted(seqs)
        store.ack("a", seqs[1])
        store.ack("b", seqs[2])  # another actor's number: nothing happens
        rows = await store.pending("a")
        assert [seq for seq, _ in rows] == [seqs[0], *seqs[2:]]
        assert [e.payload for _, e in rows] == [0, 2, 3, 4]
    async with DurableStore(path) as again:  # what was committed is there after a reopen
        rows = await again.pending()
        assert [(e.recipient, e.payload) for _, e in rows] == [
            ("a", 0), ("a", 2), ("a", 3), ("a", 4), ("b", "for b")
        ]  # fmt: skip
        first = rows[0][1]
        # An int id was given its lasting form when stored (the store's boot + the number).
        assert (first.id, first.sender, first.topic) == (f"{store.boot}.0", "sender", "topic")
        assert rows[-1][1].id == "mid-1"
        later = await again.append("a", envelope(5))
        assert later > max(seq for seq, _ in rows)  # numbers keep growing across opens


async def test_a_second_opener_is_refused_while_the_file_is_open(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with DurableStore(path):
        with pytest.raises(StoreError, match="in use by another process"):
            async with DurableStore(path):
                pass
    async with DurableStore(path):  # closed: free again
        pass


async def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some text that is long enough to have a header\n" * 5)
    with pytest.raises(StoreError, match=r"notes\.txt"):
        async with DurableStore(path):
            pass


async def test_closed_store_refuses_writes(tmp_path: Path) -> None:
    store = DurableStore(tmp_path / "store.db")
    async with store:
        pass
    with pytest.raises(StoreError, match="closed"):
        await store.append("a", envelope(1))
    store.ack("a", 1)  # only logged: a lost ack means a redelivery


async def test_concurrent_appends_share_commits(tmp_path: Path) -> None:
    async with DurableStore(tmp_path / "store.db") as store:
        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(store.append, "a", envelope(i))
        assert len(await store.pending("a")) == 200
        assert store.commits < 200  # several appends per transaction


async def test_ack_without_waiting_is_written_by_the_next_commit(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with DurableStore(path) as store:
        seq = await store.append("a", envelope("x"))
        store.ack("a", seq)
    async with DurableStore(path) as store:  # the ack was written at close
        assert await store.pending() == []


def test_codec_round_trips_json_and_registered_models() -> None:
    codec = Codec([Order])
    payloads: list[Any] = [
        "text", 3, 2.5, True, None, [1, "two", [3.0]], {"k": {"nested": [None, False]}},
        Order(item="tea", quantity=2),
    ]  # fmt: skip
    for payload in payloads:
        back = codec.decode(codec.encode(envelope(payload)))
        assert back.payload == payload and type(back.payload) is type(payload)
    codec.register(Order, "order-v1")
    assert codec.decode(codec.encode(envelope(Order(item="a", quantity=1)))).payload == Order(
        item="a", quantity=1
    )


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (object(), "message has type object"),
        ((1, 2), "has type tuple"),
        ({1: "x"}, "int key 1"),
        ({"a": [1, {2, 3}]}, "message['a'][1] has type set"),
        (b"bytes", "has type bytes"),
        (Order(item="x", quantity=1), "Order is not registered"),
    ],
)
def test_codec_refuses_what_would_not_come_back(payload: Any, what: str) -> None:
    with pytest.raises(TypeError, match=what.replace("[", r"\[").replace("]", r"\]")):
        Codec().encode(envelope(payload, "worker"))


def test_codec_names_are_per_codec_and_clash_is_refused() -> None:
    class Other(BaseModel):
        x: int = 0

    codec = Codec()
    codec.register(Order, "thing")
    with pytest.raises(ValueError, match="already registered"):
        codec.register(Other, "thing")
    with pytest.raises(TypeError, match="only pydantic models"):
        codec.register(dict, "d")  # type: ignore[arg-type]
    data = codec.encode(envelope(Order(item="x", quantity=1)))
    with pytest.raises(DecodeError, match="'thing' is not registered"):
        Codec().decode(data)  # another codec knows no such name
    with pytest.raises(DecodeError, match="cannot be read"):
        codec.decode(b"{not json")


async def test_run_records_are_saved_replaced_and_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with DurableStore(path) as store:
        store.save_run("r2", 2.0, {"run_id": "r2", "state": "running"})
        store.save_run("r1", 1.0, {"run_id": "r1", "state": "finished"})
        store.save_run("r2", 2.0, {"run_id": "r2", "state": "finished"})
        store.save_run("r3", 3.0, {"run_id": "r3"})
        store.forget_run("r3")
    async with DurableStore(path) as store:
        assert await store.runs() == [
            {"run_id": "r1", "state": "finished"}, {"run_id": "r2", "state": "finished"}
        ]  # fmt: skip
